"""The Ascend stack: training imports only TensorFlow, numpy and absl (and npu_bridge); every Python file,
tests and doubles included, runs on Python 3.7."""
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import NPU_DOUBLE, ROOT, lfw_subset_records, shared_path
from tests.test_main import TINY_FLAGS

PYTHON_FOLDERS = ["main.py", "pfe_estimator", "data_prep", "scripts", "bench", "tests"]
# Python 3.8+ standard-library uses that ../shared/tools/check_compat.py does not list.
NEWER_THAN_37 = {
    r"dirs_exist_ok": "shutil.copytree(dirs_exist_ok=...) is Python 3.8",
    r"\bmath\.dist\(": "math.dist is Python 3.8",
    r"\bstatistics\.fmean\(": "statistics.fmean is Python 3.8",
    r"@functools\.cache\b|\bfunctools\.cache\(": "functools.cache is Python 3.9",
    r"\bzoneinfo\b|\bgraphlib\b": "zoneinfo/graphlib are Python 3.9",
    r"\bitertools\.pairwise\(": "itertools.pairwise is Python 3.10",
    r"\bzip\([^)]*strict=": "zip(strict=) is Python 3.10",
    r"\.is_relative_to\(": "PurePath.is_relative_to is Python 3.9",
    r"\bunlink\(missing_ok=": "Path.unlink(missing_ok=) is Python 3.8",
}


def blocked_imports(tmp_path):
    """A PYTHONPATH entry under which `import cv2` and `import matplotlib` fail, as on an Ascend image."""
    folder = tmp_path / "blocked"
    (folder / "matplotlib").mkdir(parents=True)
    (folder / "cv2.py").write_text("raise ImportError('cv2 is not installed on this image')\n")
    (folder / "matplotlib" / "__init__.py").write_text("raise ImportError('matplotlib is not installed')\n")
    return str(folder)


@pytest.mark.parametrize("device", ["cpu", "npu"])
def test_training_needs_neither_opencv_nor_matplotlib(tmp_path, device):
    records, _, _ = lfw_subset_records(tmp_path)  # made here, with OpenCV
    path = [blocked_imports(tmp_path)] + ([NPU_DOUBLE] if device == "npu" else [])
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "main.py")] + TINY_FLAGS + [
            "--device=" + device, "--mode=train", "--data_dir=" + records, "--image_size=112,96", "--max_steps=2",
            "--model_dir=" + str(tmp_path / "model")],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=os.pathsep.join(path)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert os.path.exists(str(tmp_path / "model" / "model.ckpt-2.index"))
    blocked = subprocess.run([sys.executable, "-c", "import cv2"], env=dict(os.environ, PYTHONPATH=path[0]),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert "cv2 is not installed" in blocked.stdout  # the block works


def test_every_python_file_runs_on_python_3_7():
    checker = shared_path("tools", "check_compat.py")
    result = subprocess.run([sys.executable, checker] + PYTHON_FOLDERS, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout
    problems = []
    for folder in PYTHON_FOLDERS:
        paths = [os.path.join(ROOT, folder)] if folder.endswith(".py") else [
            os.path.join(root, name) for root, _, names in os.walk(os.path.join(ROOT, folder))
            for name in names if name.endswith(".py")]
        for path in paths:
            if os.path.abspath(path) == os.path.abspath(__file__):
                continue  # the patterns themselves
            for number, line in enumerate(open(path, encoding="utf-8"), 1):
                problems += ["%s:%d: %s" % (path, number, why) for pattern, why in NEWER_THAN_37.items()
                             if re.search(pattern, line)]
    assert not problems, "\n".join(problems)
