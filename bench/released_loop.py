"""PFE head training: this project's Estimator pipeline against a loop written the way the released PFE
trains, same backbone, head, batch and data, alternating the two in one run.

  python -m bench.released_loop --data_dir runs/lfw_sface/lfw_112x112 [--backbone sphere20] [--steps 6]

Released-style loop (written from the released train.py's behaviour): a tf.Session fed through
feed_dict; a Python thread samples P identities x K images, decodes the JPEGs with OpenCV, flips in numpy,
standardises and queues batches; the loss is the dense B x B x D masked MLS (losses.mls_loss). Ours: the
Estimator with the tf.data P x K pipeline and the static-index MLS: first at main.py's defaults
(--backbone_precision=auto, resolved here as main.py resolves it), then the other precision as an option.
Each round times `--steps` steps of each (ours: inside one train() call, after its first step); the
script prints median images/s and the ratios.
"""
import argparse
import os
import queue
import tempfile
import threading
import time

import cv2
import numpy as np
import tensorflow.compat.v1 as tf
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling
from pfe_estimator.inference import precision_check
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.training import losses
from bench.train_throughput import BENCH_RUNTIME, bench_recipe
from pfe_estimator.training import estimators
from pfe_estimator.training import optimization
from pfe_estimator.training import pfe_model
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.model import uncertainty_head


class ReleasedStyleLoop(object):
    """tf.Session + feed_dict training of the head, batches made in numpy on a Python thread."""

    def __init__(self, data_dir, backbone, classes, images_per_class, image_size, seed=0):
        manifest = manifests.read(data_dir)
        self.identities = [record["encoded"] for shard in manifest["shards"]
                           for record in tfrecord_schema.read_identities(os.path.join(data_dir, shard["file"]))
                           if len(record["encoded"]) >= 2]
        self.classes, self.images_per_class, self.image_size = classes, images_per_class, image_size
        self.rng = np.random.RandomState(seed)
        self.batches = queue.Queue(maxsize=4)
        threading.Thread(target=self._produce, daemon=True).start()
        self.graph = tf.Graph()
        with self.graph.as_default():
            batch = classes * images_per_class
            self.images = tf.placeholder(tf.float32, [batch, image_size[0], image_size[1], 3])
            self.labels = tf.placeholder(tf.int32, [batch])
            mu, log_sigma_sq = pfe_model.pfe_outputs(self.images, backbones.Backbone(backbone), True)
            recipe = bench_recipe(classes, images_per_class)
            head = tf.trainable_variables(uncertainty_head.SCOPE + "/")
            loss = losses.mls_loss(self.labels, mu, log_sigma_sq) + optimization.weight_decay_loss(
                recipe.weight_decay, head)
            optimizer = tf.train.MomentumOptimizer(recipe.learning_rates[0], recipe.momentum)
            minimize = optimizer.minimize(loss, var_list=head)
            self.train_op = tf.group(minimize, *tf.get_collection(tf.GraphKeys.UPDATE_OPS))
            self.session = tf.Session()
            self.session.run(tf.global_variables_initializer())

    def _produce(self):
        while True:
            chosen = self.rng.choice(len(self.identities), self.classes, replace=False)
            images, labels = [], []
            for label, identity in enumerate(chosen):
                encoded = self.identities[identity]
                picks = self.rng.choice(len(encoded), self.images_per_class,
                                        replace=len(encoded) < self.images_per_class)
                for pick in picks:
                    image = cv2.cvtColor(cv2.imdecode(np.frombuffer(encoded[pick], np.uint8), cv2.IMREAD_COLOR),
                                         cv2.COLOR_BGR2RGB)
                    if self.rng.rand() < 0.5:
                        image = image[:, ::-1]
                    images.append((image.astype(np.float32) - 127.5) / 128.0)
                    labels.append(label)
            self.batches.put((np.stack(images), np.array(labels, np.int32)))

    def run_steps(self, steps):
        for _ in range(steps):
            images, labels = self.batches.get()
            self.session.run(self.train_op, {self.images: images, self.labels: labels})


class StepTimer(tf.train.SessionRunHook):
    """Seconds from the end of a train() call's first step to the end of its last."""

    def __init__(self):
        self.ends = []

    def after_run(self, run_context, run_values):
        self.ends.append(time.perf_counter())

    def seconds(self):
        return self.ends[-1] - self.ends[0]


def default_precision(data_dir, backbone, image_size):
    """What main.py's --backbone_precision=auto picks here for this backbone (inference.precision_check, on
    the first 16 faces of data_dir), and why."""
    def faces():
        return precision_check.decodable_faces(predict.read_tfrecord_faces(data_dir, limit=16)[1], image_size)
    device = "gpu" if tf.config.experimental.list_physical_devices("GPU") else "cpu"
    return precision_check.auto_precision(device, backbones.Backbone(backbone), faces)


class OurEstimator(object):
    def __init__(self, data_dir, backbone, classes, images_per_class, image_size, precision, xla=False):
        options = None if precision == "fp32" else {"precision": precision}
        self.estimator = estimators.pfe_estimator(
            backbones.Backbone(backbone, options=options), tempfile.mkdtemp(prefix="pfe_bench_"),
            bench_recipe(classes, images_per_class), BENCH_RUNTIME._replace(xla=xla))
        self.data = pk_sampling.tfrecord_input_fn_builder(data_dir, classes, images_per_class, image_size)

    def seconds_for(self, steps):
        """Seconds of `steps` training steps, timed inside one train() call after its first step (graph
        building, session start-up and the first step's kernel warm-up excluded)."""
        timer = StepTimer()
        self.estimator.train(self.data, steps=steps + 1, hooks=[timer])
        return timer.seconds()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", required=True, help="aligned TFRecords (data_prep/make_tfrecords.py)")
    parser.add_argument("--backbone", default="sphere20")
    parser.add_argument("--classes", type=int, default=16)
    parser.add_argument("--images_per_class", type=int, default=4)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="also time ours fp32 with --xla")
    args = parser.parse_args()
    tf.logging.set_verbosity(tf.logging.ERROR)
    size = tuple(manifests.read(args.data_dir)["image_size"])
    batch = args.classes * args.images_per_class
    released = ReleasedStyleLoop(args.data_dir, args.backbone, args.classes, args.images_per_class, size)
    released.run_steps(1)  # warm-up
    chosen, why = default_precision(args.data_dir, args.backbone, size)
    print("defaults: --backbone_precision=auto -> %s (%s)" % (chosen, why))
    ours = {"defaults (%s)" % chosen: OurEstimator(args.data_dir, args.backbone, args.classes, args.images_per_class,
                                                   size, chosen)}
    for name in ("fp32", "bf16"):
        if name != chosen:
            ours["--backbone_precision=" + name] = OurEstimator(args.data_dir, args.backbone, args.classes,
                                                                args.images_per_class, size, name)
    if args.xla:
        ours["fp32 --xla"] = OurEstimator(args.data_dir, args.backbone, args.classes, args.images_per_class, size,
                                          "fp32", xla=True)
    rates = {"released-style loop": []}
    rates.update(("ours " + name, []) for name in ours)
    for _ in range(args.rounds):
        start = time.perf_counter()
        released.run_steps(args.steps)
        rates["released-style loop"].append(batch * args.steps / (time.perf_counter() - start))
        for precision, estimator in ours.items():
            rates["ours " + precision].append(batch * args.steps / estimator.seconds_for(args.steps))
    print("PFE head training, %s frozen, batch %d = %d x %d at %dx%d, %d CPU cores, %d rounds of %d steps"
          % (args.backbone, batch, args.classes, args.images_per_class, size[0], size[1], os.cpu_count(),
             args.rounds, args.steps))
    baseline = np.median(rates["released-style loop"])
    for name, values in rates.items():
        print("  %-30s %6.1f images/s (rounds: %s)  ratio to released-style: %.2fx"
              % (name, np.median(values), ", ".join("%.1f" % v for v in values), np.median(values) / baseline))


if __name__ == "__main__":
    main()
