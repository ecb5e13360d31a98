"""The speed options keep results: bf16 backbone arithmetic (head and loss stay fp32, refused on the NPU),
--backbone_precision=auto (the default: bf16 only where the hardware has it and mu stays close), --xla.
The threaded MLS matrix and the blocked template fusion are checked in tests/evaluation."""
import json
import os

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.inference import precision_check
from pfe_estimator.model import compute_precision
from pfe_estimator.evaluation import metrics
from pfe_estimator.training import pfe_model
from pfe_estimator.training import devices
from tests.conftest import tiny_backbone, tiny_model_fn, tiny_synthetic_input_fn


def test_bf16_backbone_agrees_with_fp32_and_leaves_the_head_and_loss_in_fp32():
    assert compute_precision.unsupported_reason("bf16") is None  # this CPU has AVX512_BF16 (oneDNN)
    rng = np.random.RandomState(0)
    faces = rng.uniform(-1, 1, size=(8, 32, 32, 3)).astype(np.float32)
    with tf.Graph().as_default() as graph:
        images = tf.constant(faces)
        mu = precision_check.both_precisions(images, tiny_backbone())
        _, log_sigma_sq = pfe_model.head_outputs(mu["bf16"], tf.zeros([8, 64]), False)
        with tf.Session() as session:
            session.run(tf.global_variables_initializer())
            values = session.run(mu)
    convolutions = [op for op in graph.get_operations() if op.type == "Conv2D"]
    assert sorted({op.get_attr("T") for op in convolutions}, key=str) == [tf.bfloat16, tf.float32]
    head_ops = [op for op in graph.get_operations() if op.name.startswith("UncertaintyModule/")
                and op.type in ("MatMul", "Exp", "Log", "AddV2", "Mul")]
    assert head_ops and all(op.get_attr("T") == tf.float32 for op in head_ops)
    assert mu["bf16"].dtype == log_sigma_sq.dtype == tf.float32
    cosine = metrics.cosine_pair_scores(values["fp32"], values["bf16"])
    assert cosine.min() >= 0.999


def test_a_precision_without_kernels_is_refused_with_one_line(monkeypatch):
    with pytest.raises(ValueError, match="^--backbone_precision=fp64: expected one of bf16, fp32$"):
        compute_precision.check_name("fp64")
    monkeypatch.setitem(compute_precision.PRECISIONS, "int8", tf.int8)
    reason = compute_precision.unsupported_reason("int8")
    assert reason.startswith("--backbone_precision=int8: TensorFlow ") and "\n" not in reason
    assert reason.endswith("use --backbone_precision=fp32")


def test_xla_marks_the_model_for_compilation_and_trains(tmp_path):
    with tf.Graph().as_default() as graph:
        features, labels = tf.data.make_one_shot_iterator(tiny_synthetic_input_fn()()).get_next()
        devices.jit_compiled(tiny_model_fn())(features, labels, tf.estimator.ModeKeys.TRAIN)
    compiled = [op for op in graph.get_operations() if op.type == "Conv2D"]
    assert compiled and all(op.get_attr("_XlaCompile") for op in compiled)
    estimator = devices.build_estimator(tiny_model_fn(), str(tmp_path / "model"), devices.Runtime(xla=True))
    estimator.train(tiny_synthetic_input_fn(), max_steps=2)
    assert estimator.get_variable_value("global_step") == 2
    with pytest.raises(ValueError, match="--xla is for --device=gpu or cpu"):
        devices.build_estimator(tiny_model_fn(), str(tmp_path / "npu"), devices.Runtime("npu", xla=True))


def test_bf16_backbone_on_the_npu_is_refused_before_anything_is_written(tmp_path):
    from tests.test_main import run_main  # pylint: disable=import-outside-toplevel
    model_dir = tmp_path / "model"
    result = run_main("--mode=train", "--data=synthetic", "--device=npu", "--backbone_precision=bf16",
                      "--model_dir=" + str(model_dir), "--max_steps=1")
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == (
        "error: --backbone_precision=bf16 is for CPUs and GPUs; on the NPU use --precision_mode")
    assert not model_dir.exists()


@pytest.mark.parametrize("device,flags,gpus,version,expected", [
    ("cpu", {"avx512f", "avx512_bf16"}, [], "2.15.1", "bf16"),
    ("cpu", {"avx512f", "amx_bf16", "amx_tile"}, [], "2.15.1", "bf16"),
    ("cpu", {"avx2", "avx512f"}, [], "2.15.1", "fp32"),
    ("cpu", {"avx512_bf16"}, [], "1.15.5", "fp32"),
    ("gpu", set(), [(8, 0)], "2.15.1", "bf16"),
    ("gpu", set(), [(7, 5), (8, 6)], "2.15.1", "fp32"),
    ("gpu", set(), [], "2.15.1", "fp32"),
    ("npu", {"avx512_bf16"}, [], "1.15.0", "fp32")])
def test_auto_picks_bf16_only_where_the_hardware_and_tensorflow_have_it(device, flags, gpus, version, expected):
    choice, why = precision_check.hardware_choice(device, flags, gpus, version)
    assert choice == expected and why and "\n" not in why


def test_auto_falls_back_to_fp32_when_bf16_moves_mu_too_far_or_cannot_be_checked(monkeypatch, tmp_path):
    faces = np.random.RandomState(1).uniform(-1, 1, size=(4, 32, 32, 3)).astype(np.float32)
    monkeypatch.setattr(precision_check, "cpu_flags", lambda: {"avx512_bf16"})
    choice, why = precision_check.auto_precision("cpu", tiny_backbone(), lambda: faces)
    assert choice == "bf16" and "bf16 mu within cosine 0.99" in why and "on 4 faces" in why
    # no real bf16 mu reaches cosine 1 of fp32: a guard demanding it must refuse bf16 and say why
    monkeypatch.setattr(precision_check, "GUARD_COSINE", 1.0)
    choice, why = precision_check.auto_precision("cpu", tiny_backbone(), lambda: faces)
    assert choice == "fp32" and "but its bf16 mu is only within cosine 0.99" in why and "(needs 1.0)" in why
    # a checkpoint it cannot read: fp32, and the mode that reads it reports the damage in its own words
    (tmp_path / "model.ckpt-1.index").write_bytes(b"not a checkpoint")
    (tmp_path / "model.ckpt-1.data-00000-of-00001").write_bytes(b"not a checkpoint")
    monkeypatch.setattr(precision_check, "GUARD_COSINE", 0.999)
    choice, why = precision_check.auto_precision("cpu", tiny_backbone(), lambda: faces,
                                                 str(tmp_path / "model.ckpt-1"))
    assert choice == "fp32" and "but the check could not read the backbone's weights (" in why and "\n" not in why
    monkeypatch.setattr(precision_check, "cpu_flags", set)
    assert precision_check.auto_precision("cpu", tiny_backbone(), lambda: 1 / 0) == (
        "fp32", "this CPU has neither AVX512_BF16 nor AMX")  # no check where the hardware decides


def test_auto_is_the_default_said_once_and_recorded_and_exports_stay_fp32(tmp_path):
    from tests.test_main import run_main  # pylint: disable=import-outside-toplevel
    model_dir = str(tmp_path / "model")
    trained = run_main("--mode=train", "--data=synthetic", "--model_dir=" + model_dir, "--max_steps=1")
    assert trained.returncode == 0, trained.stdout[-2000:]
    expected, _ = precision_check.hardware_choice("cpu", precision_check.cpu_flags(), [], tf.version.VERSION)
    lines = [line for line in trained.stdout.splitlines() if line.startswith("backbone precision: ")]
    assert len(lines) == 1 and lines[0].startswith("backbone precision: %s (auto: " % expected)
    record = json.load(open(os.path.join(model_dir, "pfe_config.json")))["backbone_precision"]
    assert record["used"] == expected and record["why"] == "auto: " + lines[0].split("(auto: ", 1)[1][:-1]
    exported = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "export"))
    assert exported.returncode == 0 and "backbone precision" not in exported.stdout, exported.stdout[-2000:]
    graph = tf.GraphDef()
    with open(os.path.join(str(tmp_path / "export"), "pfe_frozen.pb"), "rb") as f:
        graph.ParseFromString(f.read())
    assert all(node.attr["T"].type != tf.bfloat16.as_datatype_enum for node in graph.node)
    fixed = run_main("--mode=train", "--data=synthetic", "--model_dir=" + str(tmp_path / "fp32"), "--max_steps=1",
                     "--backbone_precision=fp32")
    assert fixed.returncode == 0 and "backbone precision" not in fixed.stdout
    assert json.load(open(str(tmp_path / "fp32" / "pfe_config.json")))["backbone_precision"] == {
        "used": "fp32", "why": "--backbone_precision=fp32"}
