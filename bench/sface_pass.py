"""SFace's forward pass as the cache path runs it, against OpenCV dnn and onnxruntime on the same aligned faces.

  python -m bench.sface_pass --records runs/lfw_sface/records/lfw-86cf198e436d \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx [--faces 512] [--rounds 3]

Each runtime gets the same aligned LFW crops (the records' first --faces) and runs them in batches of --batch
(bf16 compiled with XLA: its one compiled batch; OpenCV dnn one face at a time: it gives NaN for SFace in
batches), the cache path's bf16 also op by op, as it ran before XLA; the runtimes alternate round by round and each
round times one pass over every face after a warm-up batch. Printed per runtime: the median faces/s over the
rounds, its ratio to the first runtime (the project's cache path), the GFLOP/s it reaches (SFace's forward
FLOPs by tf.profiler), and its agreement with the fp32 reference (the project's TF import in fp32): the smallest
cosine between its mu and the reference's, and the largest absolute difference of the head's features (the conv
map the uncertainty head reads).
"""
import argparse
import time

import numpy as np
import tensorflow.compat.v1 as tf

from bench import runtimes as other_runtimes
from bench.flops import graph_flops
from pfe_estimator.faces import network_input
from pfe_estimator.inference import backbone_runtimes
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones

IMAGE_SIZE = (112, 112)


def runtimes(sface, precisions):
    """(name, factory() -> a runner with run(faces, batch) -> (features, mu)) of each runtime compared: the cache
    path (TensorFlow, the SFace import) in each of `precisions` (bf16 compiled with XLA), bf16 op by op (the cache
    path before XLA), then onnxruntime and OpenCV dnn."""
    onnx_backbone = backbones.Backbone(backbones.ONNX_PREFIX + sface, 128)

    def project(precision, xla=None):
        options = {"precision": precision} if precision != "fp32" else None
        return lambda: backbone_runtimes.TensorflowRunner(backbones.Backbone(onnx_backbone.name, 128, options),
                                                          IMAGE_SIZE, xla=xla)

    def name(precision):
        compiled = backbone_runtimes.uses_xla(backbones.Backbone(onnx_backbone.name, 128, {"precision": precision}))
        return "project cache path, TensorFlow %s%s" % (precision, ", XLA" if compiled else "")
    baseline = [("TensorFlow bf16 op by op (before XLA)", project("bf16", xla=False))] if "bf16" in precisions else []
    return ([(name(precision), project(precision)) for precision in precisions] + baseline +
            [("onnxruntime, weights dequantised", lambda: other_runtimes.OnnxRuntimeRunner(onnx_backbone)),
             ("OpenCV dnn, one face at a time", lambda: other_runtimes.OpencvRunner(onnx_backbone))])


def timed(runner, faces, batch):
    runner.run(faces[:batch], batch)  # warm-up
    start = time.perf_counter()
    features, mu = runner.run(faces, batch)[:2]
    return time.perf_counter() - start, features, mu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", required=True, help="aligned 112x112 TFRecords (an experiment's records/lfw-*)")
    parser.add_argument("--sface", required=True, help="SFace .onnx")
    parser.add_argument("--faces", type=int, default=512)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precisions", default="fp32,bf16", help="the cache path's precisions, comma-separated "
                        "(bf16 needs a CPU with AVX512_BF16 to be fast)")
    args = parser.parse_args()
    tf.logging.set_verbosity(tf.logging.ERROR)
    jpegs = predict.read_tfrecord_faces(args.records, limit=args.faces)[1]
    faces = np.stack([network_input.decode_network_input(jpeg, IMAGE_SIZE) for jpeg in jpegs])
    reference = backbone_runtimes.TensorflowRunner(backbones.Backbone(backbones.ONNX_PREFIX + args.sface, 128),
                                                   IMAGE_SIZE)
    ref_features, ref_mu = reference.run(faces, args.batch)[:2]
    reference.close()
    flops = graph_flops(lambda: backbones.frozen_backbone(tf.zeros([1, 112, 112, 3]), backbones.Backbone(
        backbones.ONNX_PREFIX + args.sface, 128)))
    compared = runtimes(args.sface, args.precisions.split(","))
    runners = [factory() for _, factory in compared]
    seconds = {name: [] for name, _ in compared}
    agreement = {}
    for round_index in range(args.rounds):
        order = range(len(compared)) if round_index % 2 == 0 else reversed(range(len(compared)))
        for index in order:
            name = compared[index][0]
            took, features, mu = timed(runners[index], faces, args.batch)
            seconds[name].append(took)
            agreement[name] = (float(np.min(np.sum(mu * ref_mu, axis=1))),
                               float(np.max(np.abs(features.astype(np.float32) - ref_features))))
    for runner in runners:
        runner.close()
    print("SFace forward on %d aligned LFW faces, batches of %d (XLA: %d), %d rounds alternated; %.3f GFLOP a face"
          % (len(faces), args.batch, backbone_runtimes.XLA_BATCH, args.rounds, flops / 1e9))
    print("%-44s %9s %7s %8s %14s %12s" % ("runtime", "faces/s", "ratio", "GFLOP/s", "min cos(mu)", "max |dfeat|"))
    base = None
    for name, _ in compared:
        rate = len(faces) / float(np.median(seconds[name]))
        base = base or rate
        print("%-44s %9.1f %6.2fx %8.1f %14.6f %12.2e" % (name, rate, rate / base, rate * flops / 1e9,
                                                           agreement[name][0], agreement[name][1]))


if __name__ == "__main__":
    main()
