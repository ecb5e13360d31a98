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
from pfe_estimator.training import devices
from pfe_estimator.training import estimators
from pfe_estimator.training import recipe as recipes
from pfe_estimator.model import sphere_net


# Benchmarks time steps, not learning: no checkpoints or step lines inside the timed calls.
BENCH_RUNTIME = devices.Runtime(save_checkpoints_steps=10 ** 6, log_every_n_steps=10 ** 6)


def bench_recipe(classes, images_per_class):
    """The released recipe at the bench's P x K, its first learning rate throughout."""
    return recipes.Recipe(num_classes_per_batch=classes, images_per_class=images_per_class,
                          learning_rates=recipes.Recipe().learning_rates[:1])


def training_images_per_sec(backbone, classes, images_per_class, image_size, steps):
    """Images/s of training steps alone: two timed train() calls differing by `steps` steps, each
    paying the same graph building and session start-up, so the difference is the steps' cost."""
    estimator = estimators.pfe_estimator(backbones.Backbone(backbone), tempfile.mkdtemp(prefix="pfe_bench_"),
                                         bench_recipe(classes, images_per_class), BENCH_RUNTIME)
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
