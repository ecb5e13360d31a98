"""MLS loss forward+backward at B=256, D=512: static genuine pairs vs the dense B x B x D masked version.

  python -m bench.mls_loss [--repeats 20]

The dense version is what the released code computed (every pair, then a mask); the static one gathers
only the P*K*(K-1)/2 genuine pairs of a P x K batch. Same process, same inputs; prints both and the ratio.
"""
import argparse

import numpy as np
import tensorflow.compat.v1 as tf
from bench.timing import best_of
from pfe_estimator.training import losses


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classes", type=int, default=64)
    parser.add_argument("--images_per_class", type=int, default=4)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    batch = args.classes * args.images_per_class
    rng = np.random.RandomState(0)
    mu = rng.normal(size=(batch, args.dims)).astype(np.float32)
    log_sigma_sq = rng.normal(-3, 1, size=(batch, args.dims)).astype(np.float32)
    labels = np.repeat(np.arange(args.classes), args.images_per_class)
    with tf.Graph().as_default():
        mu_t, log_sigma_sq_t = tf.Variable(mu), tf.Variable(log_sigma_sq)
        static = losses.pk_mls_loss(mu_t, log_sigma_sq_t, args.classes, args.images_per_class)
        dense = losses.mls_loss(tf.constant(labels), mu_t, log_sigma_sq_t)
        fetches = {name: [loss] + tf.gradients(loss, [log_sigma_sq_t]) for name, loss in
                   (("static", static), ("dense", dense))}
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            values = {name: session.run(f)[0] for name, f in fetches.items()}
            seconds = {name: best_of(lambda f=f: session.run(f), args.repeats) for name, f in fetches.items()}
    print("MLS loss forward+backward, B=%d (P=%d x K=%d), D=%d, best of %d" %
          (batch, args.classes, args.images_per_class, args.dims, args.repeats))
    for name in ("dense", "static"):
        print("  %-6s %8.2f ms   loss %.4f" % (name, seconds[name] * 1e3, values[name]))
    print("  static is %.1fx faster than dense" % (seconds["dense"] / seconds["static"]))


if __name__ == "__main__":
    main()
