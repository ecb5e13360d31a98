"""The speed options keep results: bf16 backbone arithmetic (head and loss stay fp32, refused on the NPU),
--xla. The threaded MLS matrix and the blocked template fusion are checked in tests/evaluation."""
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.model import backbones
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
        with tf.variable_scope(tf.get_variable_scope(), reuse=tf.AUTO_REUSE):
            mu = {p: backbones.frozen_backbone(images, tiny_backbone({"precision": p}))[0]
                  for p in ("fp32", "bf16")}
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
