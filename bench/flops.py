"""Forward FLOPs per image of each SphereNet backbone (and the uncertainty head), from tf.profiler.

  python -m bench.flops [--image_size 112,96]
"""
import argparse

import tensorflow.compat.v1 as tf
from pfe_estimator.model import sphere_net
from pfe_estimator.model import uncertainty_head


def graph_flops(build):
    """FLOPs of the graph `build()` adds to an empty graph, for a batch of one."""
    with tf.Graph().as_default() as graph:
        build()
        options = tf.profiler.ProfileOptionBuilder(tf.profiler.ProfileOptionBuilder.float_operation()) \
            .with_empty_output().build()
        return tf.profiler.profile(graph, options=options).total_float_ops


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--image_size", default="112,96")
    args = parser.parse_args()
    height, width = [int(v) for v in args.image_size.split(",")]
    print("forward GFLOPs per image at %dx%d (tf.profiler float_operation)" % (height, width))
    feature_size = None
    for backbone in sorted(sphere_net.RESIDUAL_UNITS_PER_STAGE, key=lambda b: int(b[len("sphere"):])):
        def build(backbone=backbone):
            sphere_net.sphere_net(tf.zeros([1, height, width, 3]), backbone)
        print("  %-9s %7.2f" % (backbone, graph_flops(build) / 1e9))
    out_h, out_w = sphere_net.conv_output_size((height, width))
    feature_size = out_h * out_w * 512
    head = graph_flops(lambda: uncertainty_head.uncertainty_head(tf.zeros([1, feature_size]), 512, False))
    print("  %-9s %7.3f" % ("head", head / 1e9))


if __name__ == "__main__":
    main()
