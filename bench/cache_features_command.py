"""The whole --mode=cache_features command as a user runs it, against OpenCV dnn's pass over the same faces.

  python -m bench.cache_features_command --records runs/bench/records_1001 \
      --sface ../shared/models/sface/face_recognition_sface_2021dec_int8bq.onnx [--rounds 2]

Alternates, round by round: (a) `python main.py --mode=cache_features` into a new folder, the whole command
timed as a user runs it (start-up, the precision check, decoding, both passes of every face and its mirror, the
manifest); (b) OpenCV dnn over the same aligned crops and their mirrors, one face at a time (it gives NaN for
SFace in batches), only its forward passes timed (loading and decoding not counted: in OpenCV's favour). Prints
the median passes/s of each, the ratio (a) / (b) and each round's ratio.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

from pfe_estimator.faces import network_input
from bench import runtimes
from pfe_estimator.inference import predict
from pfe_estimator.model import backbones

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command_seconds(records, sface, flags):
    """Seconds of one `main.py --mode=cache_features` run into a new folder."""
    folder = tempfile.mkdtemp(prefix="bench_cache_")
    try:
        start = time.perf_counter()
        subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), "--mode=cache_features",
                        "--backbone=onnx:" + sface, "--image_size=112,112", "--data_dir=" + records,
                        "--cache_dir=" + os.path.join(folder, "cache")] + flags, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", required=True, help="aligned 112x112 TFRecords (e.g. 1,001 LFW faces)")
    parser.add_argument("--sface", required=True)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--flags", default="", help="more main.py flags for the command, space-separated")
    args = parser.parse_args()
    jpegs = predict.read_tfrecord_faces(args.records)[1]
    faces = np.stack([network_input.decode_network_input(jpeg, (112, 112)) for jpeg in jpegs])
    passes = 2 * len(faces)
    opencv = runtimes.OpencvRunner(backbones.Backbone(backbones.ONNX_PREFIX + args.sface, 128))
    seconds = {"command": [], "opencv": []}
    for round_index in range(args.rounds):
        for name in (("command", "opencv") if round_index % 2 == 0 else ("opencv", "command")):
            if name == "command":
                seconds[name].append(command_seconds(args.records, args.sface, args.flags.split()))
            else:
                start = time.perf_counter()
                opencv.run(faces, 64)
                opencv.run(faces[:, :, ::-1, :], 64)
                seconds[name].append(time.perf_counter() - start)
    rates = {name: passes / float(np.median(values)) for name, values in seconds.items()}
    print("%d faces and their mirrors (%d passes), %d rounds alternated" % (len(faces), passes, args.rounds))
    print("  --mode=cache_features, the whole command: %.1f passes/s (median %.1f s)" % (
        rates["command"], np.median(seconds["command"])))
    print("  OpenCV dnn, one face at a time, passes only: %.1f passes/s (median %.1f s)" % (
        rates["opencv"], np.median(seconds["opencv"])))
    print("  ratio: %.2fx (rounds: %s)" % (rates["command"] / rates["opencv"], ", ".join(
        "%.2fx" % (opencv / command) for command, opencv in zip(seconds["command"], seconds["opencv"]))))


if __name__ == "__main__":
    main()
