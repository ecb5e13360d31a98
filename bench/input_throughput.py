"""input_fn throughput: 256-image P x K batches from identity TFRecords, against the synthetic input.

  python -m bench.input_throughput --data_dir tfrecords/lfw [--batches 40]

Prints images/s of the TFRecord pipeline (read, sample K, JPEG decode, flip, standardise, batch) and its
ratio to the rate a training step consumes at the published anchor (100 steps of 256 in 26 s on one GPU
or Ascend 910, 985 images/s).
"""
import argparse
import os

import tensorflow.compat.v1 as tf
from bench.timing import best_of
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling

ANCHOR_IMAGES_PER_SEC = 100 * 256 / 26.0


def images_per_sec(dataset, batches, batch_size):
    with tf.Graph().as_default():
        features, labels = tf.data.make_one_shot_iterator(dataset()).get_next()
        fetch = [features["images"].op, labels.op]
        with tf.Session() as session:
            def run():
                for _ in range(batches):
                    session.run(fetch)
            return batches * batch_size / best_of(run, repeats=3)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--classes", type=int, default=64)
    parser.add_argument("--images_per_class", type=int, default=4)
    parser.add_argument("--batches", type=int, default=40)
    args = parser.parse_args()
    batch = args.classes * args.images_per_class
    size = tuple(manifests.read(args.data_dir)["image_size"])
    records = images_per_sec(pk_sampling.tfrecord_input_fn_builder(args.data_dir, args.classes, args.images_per_class,
                                                                size), args.batches, batch)
    print("input_fn, batches of %d = %d x %d at %dx%d, %d CPU cores" % (batch, args.classes, args.images_per_class,
                                                                      size[0], size[1], os.cpu_count()))
    print("  TFRecords  %8.1f images/s" % records)
    print("  anchor training consumption %8.1f images/s; input / consumption: %.1fx"
          % (ANCHOR_IMAGES_PER_SEC, records / ANCHOR_IMAGES_PER_SEC))


if __name__ == "__main__":
    main()
