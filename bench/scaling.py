"""What the paper's configuration (SphereNet-64 frozen, 112x96, batch 256 = 64 x 4) implies on one Ascend 910
and one H200, from what can be counted here: FLOPs and bytes moved per step, against the published
26.5 s (Ascend 910) / 25.4 s (GPU) per 100 steps. An estimate, with its assumptions printed.

  python -m bench.scaling
"""

import numpy as np
import tensorflow.compat.v1 as tf
from bench.flops import graph_flops
from pfe_estimator.model import sphere_net
from pfe_estimator.model import uncertainty_head

BATCH, IMAGE_SIZE, BACKBONE = 256, (112, 96), "sphere64"
# peak dense fp16 / bf16 rate and memory bandwidth (vendor figures)
DEVICES = (("Ascend 910", 256e12, 1.2e12, 26.5), ("H200", 989e12, 4.8e12, 25.4))


def backbone_counts():
    """(forward FLOPs per image, weight bytes in fp16, activation bytes per image in fp16: each convolution's
    output written once and read once, bias, PReLU and residual additions fused into it as NPU and GPU
    graph compilers do)."""
    with tf.Graph().as_default() as graph:
        sphere_net.sphere_net(tf.zeros([1, IMAGE_SIZE[0], IMAGE_SIZE[1], 3]), BACKBONE)
        weights = sum(int(np.prod(v.shape.as_list())) for v in tf.global_variables())
        activations = sum(int(np.prod(t.shape.as_list())) for op in graph.get_operations()
                          if op.type == "Conv2D" for t in op.outputs)
    flops = graph_flops(lambda: sphere_net.sphere_net(tf.zeros([1, IMAGE_SIZE[0], IMAGE_SIZE[1], 3]), BACKBONE))
    return flops, 2 * weights, 2 * 2 * activations


def main():
    tf.logging.set_verbosity(tf.logging.ERROR)
    flops, weight_bytes, activation_bytes = backbone_counts()
    out_h, out_w = sphere_net.conv_output_size(IMAGE_SIZE)
    head = graph_flops(lambda: uncertainty_head.uncertainty_head(tf.zeros([1, out_h * out_w * 512]), 512, False))
    step_flops = BATCH * (flops + 3 * head)  # backbone forward only (frozen); head forward + backward
    step_bytes = weight_bytes + BATCH * (activation_bytes + IMAGE_SIZE[0] * IMAGE_SIZE[1] * 3 * 2)
    print("%s at %dx%d, batch %d, backbone frozen: per step %.2f TFLOP, %.2f GB moved (fp16: weights once, "
          "each convolution's output written and read once, the input)"
          % (BACKBONE, IMAGE_SIZE[0], IMAGE_SIZE[1], BATCH, step_flops / 1e12, step_bytes / 1e9))
    print("| device | peak fp16 | bandwidth | compute-bound step | memory-bound step | 100 steps at peak | "
          "published 100 steps | implied utilisation |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, peak, bandwidth, published in DEVICES:
        compute, memory = step_flops / peak, step_bytes / bandwidth
        floor = max(compute, memory)
        print("| %s | %.0f TFLOP/s | %.1f TB/s | %.1f ms | %.1f ms | %.2f s | %.1f s | %.0f %% |"
              % (name, peak / 1e12, bandwidth / 1e12, 1e3 * compute, 1e3 * memory, 100 * floor, published,
                 100 * 100 * floor / published))


if __name__ == "__main__":
    main()
