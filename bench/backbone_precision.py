"""The frozen backbone in bfloat16 against float32 on real faces: speed, agreement of mu, LFW accuracy.

  python -m bench.backbone_precision --lfw_records runs/lfw_sface/lfw_112x112 \
      --backbone onnx:../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx \
      [--lfw_pairs ../shared/data/lfw/pairs.txt] [--rounds 5]
  python -m bench.backbone_precision --lfw_records runs/lfw_sface/lfw_112x112 --backbone sphere20 --images 512

One graph holds the backbone twice, fp32 and --backbone_precision=bf16, on the same input. Speed: batches
of 64 real aligned LFW faces through each, alternating fp32 bf16 fp32 bf16 ..., median images/s and their
ratio. Agreement: mu of every LFW image in both precisions, cosine per image. Accuracy: the LFW 10-fold
protocol on the cosine of mu, for both.
"""
import argparse
import os
import sys
import time

import numpy as np
import tensorflow.compat.v1 as tf
from pfe_estimator.faces import network_input
from pfe_estimator.model import backbones
from pfe_estimator.model import compute_precision
from pfe_estimator.evaluation import metrics
from pfe_estimator.data import pair_files
from pfe_estimator.data import manifest as manifests
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict


def all_mu(session, images, mu, faces, batch_size):
    return np.concatenate([session.run(mu, {images: faces[i:i + batch_size]})
                           for i in range(0, len(faces), batch_size)])


def lfw_cosine_accuracy(names, mu, pairs):
    first, second = pair_files.pair_indices(names, pairs)
    scores = metrics.cosine_pair_scores(mu[first], mu[second])
    return np.mean(metrics.kfold_accuracy(scores, pairs.same, pairs.fold)["accuracies"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--lfw_records", required=True, help="aligned LFW TFRecords (data_prep/make_tfrecords.py)")
    parser.add_argument("--backbone", required=True, help="onnx:PATH or a SphereNet name")
    parser.add_argument("--lfw_pairs", default=os.path.join(os.path.dirname(here), "shared", "data", "lfw",
                                                            "pairs.txt"))
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=0, help="use only the first N images (0: all)")
    args = parser.parse_args()
    tf.logging.set_verbosity(tf.logging.ERROR)
    reason = compute_precision.unsupported_reason("bf16")
    if reason:
        sys.exit("error: " + reason)
    size = tuple(manifests.read(args.lfw_records)["image_size"])
    names, encoded = predict.read_tfrecord_faces(args.lfw_records)
    if args.images:
        names, encoded = names[:args.images], encoded[:args.images]
    faces = np.stack([network_input.decode_network_input(jpeg, size) for jpeg in encoded])
    with tf.Graph().as_default():
        images = tf.placeholder(tf.float32, [None, size[0], size[1], 3])
        mu = precision_check.both_precisions(images, backbones.Backbone(args.backbone))
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())  # SphereNet: random weights (speed and agreement)
            batch = {images: faces[:args.batch_size]}
            rates = {"fp32": [], "bf16": []}
            for name in rates:
                session.run(mu[name], batch)  # warm-up
            for _ in range(args.rounds):
                for name in ("fp32", "bf16"):
                    start = time.perf_counter()
                    session.run(mu[name], batch)
                    rates[name].append(args.batch_size / (time.perf_counter() - start))
            mus = {name: all_mu(session, images, mu[name], faces, args.batch_size) for name in mu}
    cosine = metrics.cosine_pair_scores(mus["fp32"], mus["bf16"])
    print("frozen backbone %s, %d real aligned LFW faces at %dx%d, %d CPU cores"
          % (args.backbone, len(names), size[0], size[1], os.cpu_count()))
    for name in ("fp32", "bf16"):
        print("  %s  %7.1f images/s (median of %d alternated batches of %d)"
              % (name, np.median(rates[name]), args.rounds, args.batch_size))
    print("  bf16 / fp32 speed: %.2fx" % (np.median(rates["bf16"]) / np.median(rates["fp32"])))
    print("  cosine(mu fp32, mu bf16) per image: min %.5f  median %.5f  (goal >= 0.999)"
          % (cosine.min(), np.median(cosine)))
    if not args.images:
        pairs = pair_files.read_lfw_pairs(args.lfw_pairs)
        for name in ("fp32", "bf16"):
            accuracy = lfw_cosine_accuracy(names, mus[name], pairs)
            print("  LFW 6000 pairs, cosine of %s mu: %.2f %%" % (name, 100 * accuracy))


if __name__ == "__main__":
    main()
