"""`make demo` and `make smoke` run twice in a row: the second run reuses the first's folders and ends with
the same numbers (the Makefile's own recipes, run verbatim with the set-up step skipped)."""
import json
import os
import re
import subprocess
import sys

from pfe_estimator.storage import outputs
from tests.conftest import ROOT

TINY_DEMO = "--train_identities 20 --test_identities 20 --images_per_identity 4 --pretrain_steps 20 --pfe_steps 10"


def make(target, **variables):
    """Runs a Makefile target with this interpreter, its `install` prerequisite taken as done."""
    command = ["make", "--no-print-directory", "-o", "install", target, "PYTHON=" + sys.executable] + [
        "%s=%s" % item for item in sorted(variables.items())]
    return subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=600)


def result_lines(output):
    return [line for line in output.splitlines() if line.startswith(("held-out pairs:", "Spearman("))]


def test_make_demo_runs_twice_with_the_same_numbers(tmp_path, capsys):
    work = str(tmp_path / "demo")
    first = make("demo", DEMO_DIR=work, DEMO_FLAGS=TINY_DEMO)
    assert first.returncode == 0, first.stdout[-3000:]
    report = json.load(open(os.path.join(work, "report", "report.json")))
    second = make("demo", DEMO_DIR=work, DEMO_FLAGS=TINY_DEMO)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "reusing %s" % work in second.stdout
    assert result_lines(second.stdout) == result_lines(first.stdout) and len(result_lines(first.stdout)) == 2
    again = json.load(open(os.path.join(work, "report", "report.json")))
    assert again["lfw"] == report["lfw"]
    assert again["demo"]["spearman_all"] == report["demo"]["spearman_all"]
    # other settings: the folder is rebuilt, saying what changed (the rebuild itself is the first run's path)
    from scripts import demo  # pylint: disable=import-outside-toplevel
    settings = outputs.read_marker(work)["fingerprint"]
    demo.claim_work_dir(work, dict(settings, pfe_steps=settings["pfe_steps"] + 2))
    assert "was made with other settings (pfe_steps 10 -> 12); rebuilding it" in capsys.readouterr().out
    assert os.listdir(work) == [outputs.MARKER_NAME]  # emptied for the rebuild, nothing else of the run left


def test_make_demo_refuses_a_folder_it_did_not_make(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    result = make("demo", DEMO_DIR=str(tmp_path / "mine"), DEMO_FLAGS=TINY_DEMO)
    assert result.returncode != 0 and "already holds a folder of files this pipeline did not write" in result.stdout
    assert os.listdir(str(tmp_path / "mine")) == ["notes.txt"]


def test_make_smoke_runs_twice(tmp_path):
    model_dir = str(tmp_path / "smoke")
    first = make("smoke", SMOKE_DIR=model_dir)
    assert first.returncode == 0, first.stdout[-3000:]
    second = make("smoke", SMOKE_DIR=model_dir)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "resuming from %s/model.ckpt-20" % model_dir in second.stdout
    assert re.search(r"latest checkpoint \S+model\.ckpt-20$", second.stdout.strip())
