"""Shared fixtures: paths to ../shared, the npu_bridge test double, small model configurations."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("PFE_SHARED_DIR", os.path.join(os.path.dirname(ROOT), "shared"))
NPU_DOUBLE = os.path.join(ROOT, "tests", "npu_double")
# Shell scripts under test call `python3`: make it the interpreter running the tests (the .venv's).
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")

# A small configuration that builds and trains in seconds on a CPU.
TINY = dict(backbone="sphere10", image_size=(32, 32), embedding_size=16, num_classes=4, images_per_class=3)


def shared_path(*parts):
    """A path under ../shared; when it is absent the test skips with the reason on a user's machine, and
    fails under CI (CI=true), where ../shared must be present."""
    path = os.path.join(SHARED, *parts)
    if not os.path.exists(path):
        message = "%s is absent: this test needs the real data in ../shared" % path
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: ../shared must be beside the clone)")
        pytest.skip(message + " (CI has it)")
    return path


@pytest.fixture
def npu_bridge_double(monkeypatch):
    """Makes `import npu_bridge` find the test double; yields its npu_init module with RECORDED cleared."""
    monkeypatch.syspath_prepend(NPU_DOUBLE)
    for name in list(sys.modules):
        if name.startswith("npu_bridge"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setenv("JOB_ID", "4242")
    from npu_bridge import npu_init  # pylint: disable=import-outside-toplevel
    del npu_init.RECORDED[:]
    yield npu_init


def tiny_backbone(options=None):
    from pfe_estimator.model import backbones  # pylint: disable=import-outside-toplevel
    return backbones.Backbone(TINY["backbone"], TINY["embedding_size"], options)


def tiny_recipe():
    """The released recipe at the tiny P x K, one learning rate of 1e-2."""
    from pfe_estimator.training import recipe as recipes  # pylint: disable=import-outside-toplevel
    return recipes.Recipe(num_classes_per_batch=TINY["num_classes"], images_per_class=TINY["images_per_class"],
                          learning_rates=(1e-2,))


def tiny_runtime(device="cpu", **options):
    """A Runtime on `device` logging every step, checkpointing every 100, seeded; options: Runtime fields."""
    from pfe_estimator.training import devices  # pylint: disable=import-outside-toplevel
    return devices.Runtime(device, **dict(dict(log_every_n_steps=1, random_seed=1, save_checkpoints_steps=100),
                                          **options))


def tiny_model_fn(device="cpu", pretrained_checkpoint=None, **runtime_options):
    from pfe_estimator.training import estimators  # pylint: disable=import-outside-toplevel
    return estimators.pfe_model_fn(tiny_backbone(), tiny_recipe(), tiny_runtime(device, **runtime_options),
                                   pretrained_checkpoint)


def tiny_estimator(model_dir, device="cpu", pretrained_checkpoint=None, **runtime_options):
    from pfe_estimator.training import estimators  # pylint: disable=import-outside-toplevel
    return estimators.pfe_estimator(tiny_backbone(), model_dir, tiny_recipe(), tiny_runtime(device, **runtime_options),
                                    pretrained_checkpoint)


def tiny_synthetic_input_fn(seed=0):
    from pfe_estimator.data import pk_sampling  # pylint: disable=import-outside-toplevel
    return pk_sampling.synthetic_input_fn_builder(TINY["num_classes"], TINY["images_per_class"], TINY["image_size"],
                                               seed=seed)


def lfw_subset_records(tmp_path, template="112x96"):
    """Aligned TFRecords (template 112x96 or 112x112) of ../shared's 100 native LFW images (10 people) and a pairs
    file in LFW's format over them (10 folds of 1 genuine + 1 impostor pair).

    Returns:
      (records folder, pairs.txt path, sorted people).
    """
    from pfe_estimator.data import record_writer  # pylint: disable=import-outside-toplevel
    from pfe_estimator.faces import alignment  # pylint: disable=import-outside-toplevel
    root, identities = record_writer.list_identities(shared_path("data", "lfw_raw250_subset"))
    landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))
    records = str(tmp_path / ("lfw_records_" + template))
    settings = record_writer.CropSettings(template, 95, None, "skip", None, 0.6)
    record_writer.write_records(root, identities, landmarks, records, settings, 1, 50, 1, progress=False)
    people = sorted(identities)
    return records, subset_pairs(str(tmp_path / "pairs.txt"), people), people


def subset_pairs(path, people):
    """Writes a pairs file in LFW's format over the 10 people of ../shared's native subset (10 folds of 1
    genuine + 1 impostor pair); returns its path."""
    lines = ["10\t1"]
    for k in range(10):
        lines.append("%s\t1\t%d" % (people[k], 2 + k % 5))
        lines.append("%s\t3\t%s\t4" % (people[k], people[(k + 1) % 10]))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# The 100 native LFW images at the half-size template: real records that a tiny model reads in seconds.
RECORD_FLAGS = ["--backbone=sphere4", "--image_size=56,48", "--embedding_size=16", "--batch_size=8",
                "--num_classes_per_batch=4", "--learning_rates=0.01", "--learning_rate_boundaries=", "--device=cpu"]


def run_tool(module, *args):
    return subprocess.run([sys.executable, "-m", module] + list(args), cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)


def make_records(output_dir, *extra):
    return run_tool("data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw_raw250_subset"),
                    "--landmarks=" + shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"), "--template=56x48",
                    "--output_dir=" + output_dir, "--num_workers=1", "--images_per_shard=40", *extra)


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    """A trained tiny model folder, its export, LFW-subset records (56x48) and a SphereNet-4 model trained on
    them, made once for the session. Tests copy what they change."""
    from tests.test_main import run_main  # pylint: disable=import-outside-toplevel
    base = tmp_path_factory.mktemp("reliability")
    paths = {name: str(base / name) for name in ("model", "export", "records", "record_model")}
    trained = run_main("--mode=train", "--data=synthetic", "--model_dir=" + paths["model"], "--max_steps=3")
    assert trained.returncode == 0, trained.stdout[-3000:]
    exported = run_main("--mode=export", "--model_dir=" + paths["model"], "--export_dir=" + paths["export"])
    assert exported.returncode == 0, exported.stdout[-3000:]
    made = make_records(paths["records"])
    assert made.returncode == 0, made.stdout[-3000:]
    trained = run_main("--mode=train", "--data_dir=" + paths["records"], "--model_dir=" + paths["record_model"],
                       "--max_steps=2", *RECORD_FLAGS)
    assert trained.returncode == 0, trained.stdout[-3000:]
    paths["base"] = str(base)
    return paths


# The longest test files (the experiment protocols end to end, about 3 minutes each): scheduled first, so
# that the two workers of `make test` finish together instead of one running them alone at the end.
LONGEST_FIRST = ("tests/experiments/test_protocols.py", "tests/experiments/test_lfw_protocol.py")


def pytest_collection_modifyitems(items):
    """The longest files first (LONGEST_FIRST). Under `make mutants` (mutmut sets MUTANT_UNDER_TEST in each
    mutant's run, which stops at the first failure), the fastest tests run first instead, as timed by mutmut's
    own stats run: a killed mutant costs the time of the first test that fails, not of the whole selection."""
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        items.sort(key=lambda item: 0 if item.nodeid.split("::")[0] in LONGEST_FIRST else 1)  # stable otherwise
        return
    stats_path = os.path.join(os.getcwd(), "mutmut-stats.json")
    if not os.path.exists(stats_path):
        return
    with open(stats_path) as f:
        duration_by_test = json.load(f)["duration_by_test"]
    items.sort(key=lambda item: duration_by_test.get(item.nodeid, float("inf")))


def main_alone(*flags):
    """main.py with these flags only (no model flags), from a folder holding no model: nothing but the export."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py")] + list(flags), cwd=os.path.dirname(ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)

