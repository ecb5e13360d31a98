"""PFE training throughput on this machine with synthetic P x K batches, against the backbone alone.

  python -m bench.train_throughput [--backbones sphere20,sphere64] [--batch_size 64] [--steps 6]

For each backbone: images/s of Estimator training steps (frozen backbone forward + head forward/backward
+ update, measured by the ThroughputHook after the first step) and images/s of the backbone's forward pass
alone in a plain session (the floor PFE training cannot beat); prints the ratio.
"""
import argparse
import os
import tempfile
import time

import tensorflow.compat.v1 as tf
from bench.timing import best_of
from pfe_estimator.data import pk_sampling
from pfe_estimator.model import backbones
from pfe_estimator.training import pfe_model
from pfe_estimator.training import devices
from pfe_estimator.training import optimization
from pfe_estimator.model import sphere_net


def training_images_per_sec(backbone, classes, images_per_class, image_size, steps):
    """Images/s of training steps alone: two timed train() calls differing by `steps` steps, each
    paying the same graph building and session start-up, so the difference is the steps' cost."""
    model = pfe_model.pfe_model_fn_builder(
        backbones.Backbone(backbone), classes, images_per_class,
        optimization.OptimizerConfig([1e-3], [], 0.9, devices.optimizer_wrapper("cpu")), 5e-4, None)
    estimator = devices.build_estimator(model, "cpu", tempfile.mkdtemp(prefix="pfe_bench_"),
                                        save_checkpoints_steps=10 ** 6, log_step_count_steps=10 ** 6)
    data = pk_sampling.synthetic_input_fn_builder(classes, images_per_class, image_size)
    estimator.train(data, max_steps=1)  # first step: initialisation and kernel warm-up

    def train_until(step):
        start = time.perf_counter()
        estimator.train(data, max_steps=step)
        return time.perf_counter() - start

    one_step = train_until(2)
    one_plus_steps = train_until(3 + steps)
    return classes * images_per_class * steps / (one_plus_steps - one_step)


def forward_images_per_sec(backbone, batch_size, image_size, repeats):
    with tf.Graph().as_default():
        images = tf.Variable(tf.random.uniform([batch_size, image_size[0], image_size[1], 3], -1, 1))
        mu, _ = sphere_net.sphere_net(images, backbone)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            return batch_size / best_of(lambda: session.run(mu.op), repeats)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbones", default="sphere20,sphere64")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--images_per_class", type=int, default=4)
    parser.add_argument("--image_size", default="112,96")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args()
    tf.logging.set_verbosity(tf.logging.WARN)
    image_size = tuple(int(v) for v in args.image_size.split(","))
    classes = args.batch_size // args.images_per_class
    print("PFE training on CPU (%d cores), batch %d = %d x %d, %dx%d, synthetic data"
          % (os.cpu_count(), args.batch_size, classes, args.images_per_class, image_size[0], image_size[1]))
    for backbone in args.backbones.split(","):
        train = training_images_per_sec(backbone, classes, args.images_per_class, image_size, args.steps)
        forward = forward_images_per_sec(backbone, args.batch_size, image_size, repeats=3)
        print("  %-9s train %7.1f images/s   backbone forward alone %7.1f images/s   train/forward %.2f"
              % (backbone, train, forward, train / forward))


if __name__ == "__main__":
    main()
