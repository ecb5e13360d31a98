"""The design card's commands work verbatim from the repository root with only the requirements installed:
the project itself is not importable from site-packages here (python -S, site-packages on PYTHONPATH without
its .pth files, so the editable install of `make install` is invisible)."""
import os
import site
import subprocess
import sys

from tests.conftest import RECORD_FLAGS, ROOT, shared_path, subset_pairs


def run_uninstalled(*command, **kwargs):
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(site.getsitepackages()), PYTHONNOUSERSITE="1")
    return subprocess.run(list(command), cwd=kwargs.pop("cwd", ROOT), env=environment, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)


def test_the_project_is_not_importable_without_the_repository_root():
    result = run_uninstalled(sys.executable, "-S", "-c", "import data_prep", cwd="/")
    assert "No module named 'data_prep'" in result.stdout


def test_the_design_card_commands_run_without_installing_the_project(tmp_path):
    records = str(tmp_path / "records")
    made = run_uninstalled(sys.executable, "-S", "data_prep/make_tfrecords.py",
                           "--input_dir", shared_path("data", "lfw_raw250_subset"),
                           "--landmarks", shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"),
                           "--output_dir", records, "--template=56x48", "--num_workers=1")
    assert made.returncode == 0 and "make_tfrecords: wrote 100 images" in made.stdout, made.stdout[-2000:]
    npu = run_uninstalled(sys.executable, "-S", "main.py", "--mode=train", "--device=npu", "--data_dir=" + records,
                          "--model_dir=" + str(tmp_path / "npu"), *RECORD_FLAGS[:-1])
    last = npu.stdout.strip().splitlines()[-1]
    assert npu.returncode == 1 and "Traceback" not in npu.stdout, npu.stdout[-2000:]
    assert last.startswith("error: --device=npu needs Huawei's npu_bridge"), last
    model_dir = str(tmp_path / "pfe")
    trained = run_uninstalled(sys.executable, "-S", "main.py", "--mode=train", "--data_dir=" + records,
                              "--model_dir=" + model_dir, "--max_steps=2", *RECORD_FLAGS)
    assert trained.returncode == 0, trained.stdout[-2000:]
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), sorted(os.listdir(shared_path("data", "lfw_raw250_subset"))))
    evaluated = run_uninstalled(sys.executable, "-S", "main.py", "--mode=eval", "--device=gpu",
                                "--model_dir=" + model_dir, "--lfw_dir=" + records, "--lfw_pairs=" + pairs,
                                "--report_dir=" + str(tmp_path / "report"))
    assert evaluated.returncode == 0 and "LFW 20 pairs, 10 folds" in evaluated.stdout, evaluated.stdout[-2000:]
    launched = run_uninstalled("bash", "scripts/run_1p.sh", ROOT, records, str(tmp_path / "result"),
                               "--device=cpu", "--max_steps=2", *RECORD_FLAGS[:-1])
    assert launched.returncode == 0, launched.stdout[-2000:]
