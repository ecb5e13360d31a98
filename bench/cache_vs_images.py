"""PFE head training from the feature cache against training from images, same backbone, head and batch.

  python -m bench.cache_vs_images --data_dir runs/lfw_sface/lfw_112x112 \
      --cache_dir runs/lfw_sface/lfw_112x112_sface_cache \
      --backbone onnx:../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx [--rounds 3]

Alternates images, cache, images, cache ...; each timed inside one train() call after its first step
(bench/released_loop.StepTimer); prints median steps/s and the ratio, then a projection of disk and time
for CASIA-WebFace and a 5 M-image set at the cache's feature width.
"""
import argparse
import os
import tempfile

import numpy as np
import tensorflow.compat.v1 as tf
from bench.released_loop import StepTimer
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling
from pfe_estimator.model import backbones
from bench.train_throughput import BENCH_RUNTIME, bench_recipe
from pfe_estimator.training import estimators

DATASETS = (("CASIA-WebFace", 494414), ("5 M images", 5000000))


def estimator_and_data(data_dir, backbone, classes, images_per_class, options):
    estimator = estimators.pfe_estimator(
        backbones.Backbone(backbone, options=options), tempfile.mkdtemp(prefix="pfe_bench_"),
        bench_recipe(classes, images_per_class), BENCH_RUNTIME)
    if feature_cache.is_cache(data_dir):
        return estimator, feature_cache.cache_input_fn_builder(data_dir, classes, images_per_class)
    size = tuple(manifests.read(data_dir)["image_size"])
    return estimator, pk_sampling.tfrecord_input_fn_builder(data_dir, classes, images_per_class, size)


def steps_per_sec(estimator, data, steps):
    timer = StepTimer()
    estimator.train(data, steps=steps + 1, hooks=[timer])
    return steps / timer.seconds()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True, help="aligned image TFRecords")
    parser.add_argument("--cache_dir", required=True, help="their feature cache (main.py --mode=cache_features)")
    parser.add_argument("--backbone", required=True)
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--images_per_class", type=int, default=4)
    parser.add_argument("--image_steps", type=int, default=3)
    parser.add_argument("--cache_steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tf.logging.set_verbosity(tf.logging.ERROR)
    manifest = manifests.read(args.cache_dir)
    options = manifest["cache"].get("backbone_options")
    runs = {"images": estimator_and_data(args.data_dir, args.backbone, args.classes, args.images_per_class, options),
            "cache": estimator_and_data(args.cache_dir, args.backbone, args.classes, args.images_per_class, options)}
    steps = {"images": args.image_steps, "cache": args.cache_steps}
    rates = {"images": [], "cache": []}
    for _ in range(args.rounds):
        for name in ("images", "cache"):
            rates[name].append(steps_per_sec(runs[name][0], runs[name][1], steps[name]))
    images, cache = np.median(rates["images"]), np.median(rates["cache"])
    batch = args.classes * args.images_per_class
    print("PFE head training, %s, batch %d = %d x %d, %d CPU cores, %d rounds"
          % (args.backbone, batch, args.classes, args.images_per_class, os.cpu_count(), args.rounds))
    print("  from images  %8.3f steps/s  %8.1f images/s" % (images, images * batch))
    print("  from cache   %8.3f steps/s  %8.1f images/s" % (cache, cache * batch))
    print("  cache / images: %.0fx" % (cache / images))
    bytes_per_image = sum(os.path.getsize(os.path.join(args.cache_dir, s["file"])) for s in manifest["shards"]) / \
        float(sum(s["images"] for s in manifest["shards"]))
    per_image_backbone = 1.0 / (images * batch)
    print("  cache: %.1f KB per image (image and mirror, %s features)" % (bytes_per_image / 1024.0,
                                                                          manifest["cache"]["features_dtype"]))
    for name, count in DATASETS:
        print("  %-14s cache %6.1f GB, built in %5.1f h here (one backbone pass, mirrors included); "
              "an epoch of head training from it %5.2f h, from images %6.1f h"
              % (name, count * bytes_per_image / 1e9, 2 * count * per_image_backbone / 3600.0,
                 count / (cache * batch) / 3600.0, count * per_image_backbone / 3600.0))


if __name__ == "__main__":
    main()
