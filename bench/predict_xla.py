"""Predict from a checkpoint with SFace in bf16: the Estimator's PREDICT graph compiled with XLA (what
--mode=predict/eval/verify/calibrate run) against the same graph op by op, alternated, on the same faces.

  python -m bench.predict_xla --records runs/bench/records_1001 --model_dir runs/lfw_sface/heads/<a head> \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx [--rounds 4]

Each run is a process of its own (as a mode's run: XLA's compilation cache and oneDNN's primitives start empty)
making one estimator.predict call, timed whole (graph built, checkpoint restored, XLA's compilation, every batch
of 128); its images are decoded before the clock starts. Prints the median faces/s of each, the ratio and each
round's, and each bf16 graph's agreement with the fp32 reference: the lowest cosine of mu, the largest
|difference| of log sigma^2.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.faces import network_input
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import model_config
from pfe_estimator.training import devices
from pfe_estimator.training import estimators

BATCH = 128  # --batch_size's default
GRAPHS = {"fp32": ("fp32", False), "op by op": ("bf16", False), "XLA": ("bf16", True)}


def sface(path, head_input, precision):
    """The Backbone of SFace as the head's model folder records it, computing in `precision`."""
    options = {"head_input": head_input} if head_input != "flattened" else {}
    if precision != "fp32":
        options["precision"] = precision
    return backbones.Backbone(backbones.ONNX_PREFIX + path, 128, options or None)


def one_run(args):
    """The --graph run in this process: its seconds, mu and sigma^2 into --output (.npz)."""
    tf.logging.set_verbosity(tf.logging.ERROR)
    precision, xla = GRAPHS[args.graph]
    backbone = sface(args.sface, model_config.read(args.model_dir).get("head_input", "flattened"), precision)
    faces = np.stack([network_input.decode_network_input(jpeg, (112, 112))
                      for jpeg in predict.read_tfrecord_faces(args.records)[1]])
    estimator = estimators.pfe_estimator(backbone, args.model_dir, runtime=devices.Runtime()._replace(xla=xla))
    start = time.perf_counter()
    mu, sigma_sq = predict.estimator_embeddings(estimator, faces, (112, 112), BATCH)
    np.savez(args.output, seconds=time.perf_counter() - start, mu=mu, sigma_sq=sigma_sq)


def run(args, graph, folder):
    """{seconds, mu, sigma_sq} of one run of `graph` in a process of its own."""
    output = os.path.join(folder, "run.npz")
    subprocess.run([sys.executable, "-m", "bench.predict_xla", "--records", args.records, "--model_dir",
                    args.model_dir, "--sface", args.sface, "--graph", graph, "--output", output], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    with np.load(output) as made:
        return {name: made[name] for name in made.files}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", required=True, help="aligned 112x112 TFRecords (e.g. 1,001 LFW faces)")
    parser.add_argument("--model_dir", required=True, help="a trained head on SFace (its pfe_config.json)")
    parser.add_argument("--sface", required=True)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--graph", choices=sorted(GRAPHS), help=argparse.SUPPRESS)  # one run (a child process)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.graph:
        one_run(args)
        return
    folder = tempfile.mkdtemp(prefix="bench_predict_")
    try:
        reference = run(args, "fp32", folder)
        seconds, agreement = {"op by op": [], "XLA": []}, {}
        for round_index in range(args.rounds):
            for name in (("op by op", "XLA") if round_index % 2 == 0 else ("XLA", "op by op")):
                made = run(args, name, folder)
                seconds[name].append(float(made["seconds"]))
                agreement[name] = (np.min(np.sum(made["mu"] * reference["mu"], axis=1)),
                                   np.max(np.abs(np.log(made["sigma_sq"]) - np.log(reference["sigma_sq"]))))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    faces = len(reference["mu"])
    rates = {name: faces / float(np.median(values)) for name, values in seconds.items()}
    print("%d faces, SFace in bf16, predict from %s, %d rounds alternated, a process each" % (
        faces, args.model_dir, args.rounds))
    print("  fp32     %.1f faces/s (one run: the reference)" % (faces / float(reference["seconds"])))
    for name in ("op by op", "XLA"):
        print("  %-8s %.1f faces/s (median %.1f s); against fp32: min cosine of mu %.6f, max |d log sigma^2| %.4f"
              % (name, rates[name], np.median(seconds[name]), agreement[name][0], agreement[name][1]))
    print("  ratio: %.2fx (rounds: %s)" % (rates["XLA"] / rates["op by op"], ", ".join(
        "%.2fx (%.1f / %.1f s)" % (plain / compiled, plain, compiled)
        for plain, compiled in zip(seconds["op by op"], seconds["XLA"]))))


if __name__ == "__main__":
    main()
