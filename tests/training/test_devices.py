"""The Estimator each device gets: the NPU path through the npu_bridge test double, static shapes, GPU mixed."""
import json
import logging
import os
import sys

import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.training import devices
from tests.conftest import tiny_estimator, tiny_model_fn, tiny_synthetic_input_fn


def _closure(start, neighbours):
    """Every op reachable from `start` through `neighbours(op)`."""
    seen, stack = set(), list(start)
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(neighbours(op))
    return seen


def _ops_between(sources, sinks):
    """Ops that depend on any of `sources` and that any of `sinks` depends on (data or control)."""
    upstream = _closure(sinks, lambda op: [t.op for t in op.inputs] + list(op.control_inputs))
    downstream = _closure(sources, lambda op: [c for t in op.outputs for c in t.consumers()] +
                          list(op._control_outputs))  # pylint: disable=protected-access
    return upstream & downstream


def dynamic_shapes_between_input_and_train_op(model_fn, input_fn):
    """Builds the training graph and lists 'op:output shape' of every not fully defined tensor on the way
    from the input iterator to the train op."""
    with tf.Graph().as_default():
        features, labels = tf.data.make_one_shot_iterator(input_fn()).get_next()
        spec = model_fn(features, labels, tf.estimator.ModeKeys.TRAIN)
        get_next = features["images"].op
        ops = _ops_between([get_next], [spec.train_op.op if hasattr(spec.train_op, "op") else spec.train_op])
        assert len(ops) > 100, "the walk found too few ops: %d" % len(ops)
        return ["%s:%s" % (t.name, t.shape) for op in ops for t in op.outputs
                if t.dtype not in (tf.resource, tf.variant) and not t.shape.is_fully_defined()]


def test_npu_training_graph_has_only_static_shapes(npu_bridge_double):
    dynamic = dynamic_shapes_between_input_and_train_op(tiny_model_fn("npu"), tiny_synthetic_input_fn())
    assert dynamic == []
    assert [r["name"] for r in npu_bridge_double.RECORDED] == [
        "NPUDistributedOptimizer", "ExponentialUpdateLossScaleManager", "NPULossScaleOptimizer"]


def test_static_shape_check_catches_a_boolean_mask():
    """The check above can fail: a loss through tf.boolean_mask (as the released code had) is caught."""
    base = tiny_model_fn("cpu")

    def masked_model_fn(features, labels, mode):
        spec = base(features, labels, mode)
        genuine = tf.boolean_mask(features["images"], tf.equal(labels, 0))
        train_op = tf.group(spec.train_op, tf.reduce_sum(genuine))
        return spec._replace(train_op=train_op)

    dynamic = dynamic_shapes_between_input_and_train_op(masked_model_fn, tiny_synthetic_input_fn())
    assert any("boolean_mask" in name for name in dynamic)


def test_npu_path_trains_through_the_double(npu_bridge_double, tmp_path):
    estimator = tiny_estimator(str(tmp_path / "model"), device="npu", iterations_per_loop=1,
                               precision_mode="allow_mix_precision", loss_scale="64")
    assert type(estimator).__name__ == "NPUEstimator"
    estimator.train(tiny_synthetic_input_fn(), max_steps=3)
    assert estimator.get_variable_value("global_step") == 3
    recorded = {r["name"]: r["arguments"] for r in npu_bridge_double.RECORDED}
    assert recorded["NPURunConfig"]["precision_mode"] == "allow_mix_precision"
    assert recorded["NPURunConfig"]["iterations_per_loop"] == 1
    assert recorded["FixedLossScaleManager"]["loss_scale"] == 64.0
    assert recorded["NPULossScaleOptimizer"]["inner"] == "NPUDistributedOptimizer"
    assert recorded["NPULossScaleOptimizer"]["is_distributed"] is False
    assert recorded["NPUDistributedOptimizer"]["inner"] == "MomentumOptimizer"


def test_npu_loss_scaling_leaves_the_update_unchanged(npu_bridge_double, tmp_path):
    """Scaled-then-unscaled gradients give the same head weights as plain fp32 training."""
    values = {}
    for device in ("npu", "cpu"):
        estimator = tiny_estimator(str(tmp_path / device), device=device, loss_scale="dynamic")
        estimator.train(tiny_synthetic_input_fn(), max_steps=2)
        values[device] = estimator.get_variable_value("UncertaintyModule/fc1/weights")
    recorded = {r["name"]: r["arguments"] for r in npu_bridge_double.RECORDED}
    assert recorded["ExponentialUpdateLossScaleManager"]["init_loss_scale"] == 2 ** 32
    np.testing.assert_allclose(values["npu"], values["cpu"], rtol=1e-4, atol=1e-6)


def test_missing_npu_bridge_is_a_one_line_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "npu_bridge", None)
    with pytest.raises(ImportError) as error:
        devices.optimizer_wrapper("npu")
    assert str(error.value) == ("--device=npu needs Huawei's npu_bridge (the CANN TensorFlow 1.15 adapter): run in "
                                "an Ascend TensorFlow image or install CANN's tfplugin (import of npu_bridge halted; "
                                "None in sys.modules)")


def test_gpu_mixed_precision_scales_the_loss_and_leaves_the_update_unchanged(tmp_path):
    """The GPU mixed-precision rewrite (its float16 casts are a no-op for CPU kernels) wraps the optimiser
    in a loss scale that starts at TF's 2**15 and unscales the gradients: the head trains as in fp32."""
    values = {}
    for name, precision in (("mixed", "mixed"), ("fp32", "fp32")):
        estimator = tiny_estimator(str(tmp_path / name), device="gpu", precision=precision)
        estimator.train(tiny_synthetic_input_fn(), max_steps=2)
        assert estimator.get_variable_value("global_step") == 2
        values[name] = estimator.get_variable_value("UncertaintyModule/fc1/weights")
        scales = [v for v in estimator.get_variable_names() if "loss_scale" in v.lower()]
        if precision == "mixed":
            assert [estimator.get_variable_value(v) for v in scales if v.endswith("current_loss_scale")] == [2 ** 15]
        else:
            assert scales == []
    np.testing.assert_allclose(values["mixed"], values["fp32"], rtol=1e-4, atol=1e-6)


def test_a_numeric_loss_scale_is_fixed_on_the_gpu_and_distributed_on_npus(npu_bridge_double):
    with tf.Graph().as_default():
        fixed = devices.optimizer_wrapper("gpu", "mixed", "8")(tf.train.MomentumOptimizer(0.1, 0.9))
    tf.train.experimental.disable_mixed_precision_graph_rewrite()
    assert type(fixed._loss_scale).__name__ == "FixedLossScale" and fixed._loss_scale._loss_scale_value == 8.0
    for rank_size in (1, 2):
        devices.optimizer_wrapper("npu", rank_size=rank_size)(tf.train.MomentumOptimizer(0.1, 0.9))
    recorded = [r["arguments"] for r in npu_bridge_double.RECORDED if r["name"] == "NPULossScaleOptimizer"]
    assert [r["is_distributed"] for r in recorded] == [False, True]


@pytest.mark.parametrize("device,precision,precision_mode,message", [
    ("tpu", "fp32", "allow_mix_precision", "--device=tpu: expected one of npu, gpu, cpu"),
    ("cpu", "fp16", "allow_mix_precision", "--precision=fp16: expected fp32 or mixed"),
    ("cpu", "mixed", "allow_mix_precision",
     "--precision=mixed needs --device=gpu (the NPU's is set by --precision_mode)"),
    ("npu", "fp32", "fp64", "--precision_mode=fp64: expected one of " + ", ".join(devices.NPU_PRECISION_MODES)),
])
def test_device_options_are_checked(device, precision, precision_mode, message):
    with pytest.raises(ValueError) as error:
        devices.check_device_options(device, precision, precision_mode)
    assert str(error.value) == message


@pytest.mark.parametrize("device,precision", [("cpu", "fp32"), ("gpu", "fp32"), ("gpu", "mixed"), ("npu", "fp32")])
def test_valid_device_options_pass(device, precision):
    devices.check_device_options(device, precision, "allow_mix_precision")



def test_npu_pretraining_graph_has_only_static_shapes(npu_bridge_double):
    """--mode=pretrain under NPUEstimator: AM-softmax over the whole backbone, wrapped for the NPU."""
    from pfe_estimator.training import estimators  # pylint: disable=import-outside-toplevel
    from pfe_estimator.training import recipe as recipes  # pylint: disable=import-outside-toplevel
    from tests.conftest import TINY, tiny_backbone  # pylint: disable=import-outside-toplevel
    estimator = estimators.pretrain_estimator(
        tiny_backbone(), TINY["num_classes"], None, recipes.PretrainRecipe(
            num_classes_per_batch=TINY["num_classes"], images_per_class=TINY["images_per_class"],
            learning_rates=(0.1,)), devices.Runtime("npu"))
    assert dynamic_shapes_between_input_and_train_op(estimator._model_fn, tiny_synthetic_input_fn()) == []
    assert "NPULossScaleOptimizer" in [r["name"] for r in npu_bridge_double.RECORDED]


def test_npu_overflowing_steps_are_skipped_yet_max_steps_is_reached(npu_bridge_double, tmp_path):
    """From a loss scale of 2**32 the first steps overflow float16: the adapter applies neither the update
    nor the global-step increment and halves the scale every 2 such steps; training still ends at max_steps."""
    model_dir = str(tmp_path / "model")
    estimator = tiny_estimator(model_dir, device="npu", loss_scale="dynamic")
    estimator.train(tiny_synthetic_input_fn(), max_steps=3)
    assert estimator.get_variable_value("global_step") == 3
    scale = estimator.get_variable_value("loss_scale_manager/loss_scale")
    assert 1.0 <= scale < 2 ** 32 / 2 ** 5  # at least 10 overflowing steps were skipped
    with pytest.raises(ValueError, match="loss scale must be at least 1"):
        npu_bridge_double.FixedLossScaleManager(0.5)


def test_npu_settings_take_effect_at_non_default_values(npu_bridge_double, tmp_path, monkeypatch):
    monkeypatch.setenv("JOB_ID", "")  # empty: the runtime sets its default, as the adapter refuses it
    estimator = tiny_estimator(str(tmp_path / "model"), device="npu", iterations_per_loop=4,
                               precision_mode="allow_fp32_to_fp16", loss_scale="8")
    estimator.train(tiny_synthetic_input_fn(), max_steps=1)
    assert os.environ["JOB_ID"] == devices.DEFAULT_JOB_ID
    recorded = {r["name"]: r["arguments"] for r in npu_bridge_double.RECORDED}
    assert recorded["NPURunConfig"]["iterations_per_loop"] == 4 == estimator.config.iterations_per_loop
    assert recorded["NPURunConfig"]["precision_mode"] == "allow_fp32_to_fp16"
    assert recorded["FixedLossScaleManager"]["loss_scale"] == 8.0
    assert recorded["NPURunConfig"]["dump_config"] is None and recorded["NPURunConfig"]["profiling_config"] is None


def test_npu_debug_switches_become_the_adapters_dump_and_profiling_configs(npu_bridge_double, tmp_path):
    npu = npu_bridge_double
    assert devices.npu_debug_configs(npu, devices.NO_NPU_DEBUG) == (None, None)
    assert not devices.NO_NPU_DEBUG.any()
    paths = {name: str(tmp_path / name / "nested") for name in ("over", "data", "profiling")}
    over_only = devices.NpuDebug(True, paths["over"], False, "10", paths["data"], False, paths["profiling"])
    dump, profiling = devices.npu_debug_configs(npu, over_only)
    assert over_only.any() and profiling is None
    assert vars(dump) == {"_enable_dump": False, "_dump_path": paths["over"], "_dump_step": None, "_dump_mode": "all",
                          "_enable_dump_debug": True, "_dump_debug_mode": "all"}
    assert os.path.isdir(paths["over"]) and not os.path.exists(paths["data"])
    data_only = devices.NpuDebug(False, str(tmp_path / "unused"), True, 5, paths["data"], False, paths["profiling"])
    dump, profiling = devices.npu_debug_configs(npu, data_only)
    assert data_only.any() and profiling is None and not os.path.exists(str(tmp_path / "unused"))
    assert vars(dump) == {"_enable_dump": True, "_dump_path": paths["data"], "_dump_step": "5", "_dump_mode": "all",
                          "_enable_dump_debug": False, "_dump_debug_mode": "all"}
    assert os.path.isdir(paths["data"]) and not os.path.exists(paths["profiling"])
    profiling_only = devices.NpuDebug(False, None, False, "10", None, True, paths["profiling"])
    dump, profiling = devices.npu_debug_configs(npu, profiling_only)
    assert profiling_only.any() and dump is None and profiling._enable_profiling is True
    assert json.loads(profiling._profiling_options) == {
        "output": paths["profiling"], "training_trace": "on", "task_trace": "on", "aicpu": "on", "fp_point": "",
        "bp_point": ""}
    assert os.path.isdir(paths["profiling"])
    devices.npu_debug_configs(npu, profiling_only)  # the folders exist already: used as they are


def logged_lines(action):
    """(action(), the lines at INFO and above it logged through tf.logging from devices.py)."""
    lines = []
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage()) if record.pathname == devices.__file__ else None
    logger = tf.get_logger()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        return action(), lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def no_model_fn(features, labels, mode):
    raise AssertionError("the test builds Estimators only")


SETTINGS = dict(save_checkpoints_steps=7, keep_checkpoint_max=3, log_every_n_steps=2, random_seed=11)


def run_config_settings(estimator):
    config = estimator.config
    return (estimator.model_dir, config.save_checkpoints_steps, config.keep_checkpoint_max, config.log_step_count_steps,
            config.save_summary_steps, config.tf_random_seed, config.session_config.allow_soft_placement)


def test_every_setting_reaches_the_cpu_and_gpu_run_configs(tmp_path):
    over_dump = devices.NpuDebug(True, str(tmp_path / "dump"), False, "10", None, False, None)
    for device in ("cpu", "gpu"):
        model_dir = str(tmp_path / device)
        estimator, lines = logged_lines(lambda: devices.build_estimator(
            no_model_fn, model_dir, devices.Runtime(device, npu_debug=over_dump, **SETTINGS)))
        assert run_config_settings(estimator) == (model_dir, 7, 3, 2, 2, 11, True)
        assert estimator.config.train_distribute is None
        assert lines == ["--over_dump, --data_dump_flag and --profiling configure the NPU; ignored on --device=%s"
                         % device]
        session = estimator.config.session_config
        assert dict(session.device_count) == ({"GPU": 0, "CPU": 1} if device == "cpu" else {})
        assert session.gpu_options.allow_growth == (device == "gpu")
    assert not os.path.exists(str(tmp_path / "dump"))  # debug folders are the NPU's only
    defaults = devices.build_estimator(no_model_fn, str(tmp_path / "defaults")).config
    assert (defaults.keep_checkpoint_max, defaults.log_step_count_steps, defaults.save_summary_steps) == (5, 100, 100)
    with tf.Graph().as_default():  # graph mode: the logical devices are placed when a session starts
        two = devices.build_estimator(no_model_fn, str(tmp_path / "two"), devices.Runtime(num_devices=2)).config
        two_gpus = devices.build_estimator(no_model_fn, str(tmp_path / "two_gpus"),
                                           devices.Runtime("gpu", num_devices=2)).config
    assert two.session_config.device_count["CPU"] == 2
    assert worker_devices(two.train_distribute) == ["device:CPU:0", "device:CPU:1"]
    assert worker_devices(two_gpus.train_distribute) == ["device:GPU:0", "device:GPU:1"]
    compiled = devices.build_estimator(add_one_model_fn, str(tmp_path / "xla"), devices.Runtime(xla=True))
    with tf.Graph().as_default() as graph:
        compiled._model_fn(tf.constant(1.0), tf.constant(2.0), tf.estimator.ModeKeys.TRAIN)  # as given
        assert graph.get_operation_by_name("inside").get_attr("_XlaCompile") is True


def add_one_model_fn(features, labels, mode):
    assert labels is not None and mode == tf.estimator.ModeKeys.TRAIN
    return tf.add(features, 1.0, name="inside")


def worker_devices(strategy):
    return [device.split("/")[-1] for device in strategy.extended.worker_devices]


def test_distribution_strategy_per_device_count():
    assert devices.distribution_strategy("cpu") is None and devices.distribution_strategy("gpu", 1) is None
    with tf.Graph().as_default():
        assert worker_devices(devices.distribution_strategy("cpu", 3)) == ["device:CPU:%d" % i for i in range(3)]
        assert worker_devices(devices.distribution_strategy("gpu", 2)) == ["device:GPU:0", "device:GPU:1"]


def test_every_setting_reaches_the_npu_run_config(npu_bridge_double, tmp_path, monkeypatch):
    monkeypatch.delenv("JOB_ID")
    model_dir = str(tmp_path / "npu")
    debug = devices.NpuDebug(True, str(tmp_path / "over"), True, "0|5", str(tmp_path / "data"), True,
                             str(tmp_path / "profiling"))
    estimator, lines = logged_lines(lambda: devices.build_estimator(no_model_fn, model_dir, devices.Runtime(
        "npu", iterations_per_loop=3, precision_mode="force_fp32", npu_debug=debug, **SETTINGS)))
    assert lines == ["JOB_ID not set; using %s" % devices.DEFAULT_JOB_ID]
    assert run_config_settings(estimator) == (model_dir, 7, 3, 2, 2, 11, True)
    recorded = {r["name"]: r["arguments"] for r in npu_bridge_double.RECORDED}
    run_config = recorded["NPURunConfig"]
    assert (run_config["model_dir"], run_config["save_checkpoints_steps"], run_config["iterations_per_loop"],
            run_config["precision_mode"]) == (model_dir, 7, 3, "force_fp32")
    assert run_config["dump_config"] == {"_enable_dump": True, "_dump_path": str(tmp_path / "data"),
                                         "_dump_step": "0|5", "_dump_mode": "all", "_enable_dump_debug": True,
                                         "_dump_debug_mode": "all"}
    assert json.loads(run_config["profiling_config"]["_profiling_options"])["output"] == str(tmp_path / "profiling")
    assert recorded["NPUEstimator"]["model_dir"] == model_dir
    del npu_bridge_double.RECORDED[:]
    devices.build_estimator(no_model_fn, str(tmp_path / "defaults"), devices.Runtime("npu"))
    defaults = {r["name"]: r["arguments"] for r in npu_bridge_double.RECORDED}["NPURunConfig"]
    assert (defaults["iterations_per_loop"], defaults["precision_mode"]) == (1, "allow_mix_precision")
    monkeypatch.setenv("JOB_ID", "4242")  # a job id the launcher set is kept, silently
    _, lines = logged_lines(lambda: devices.build_estimator(no_model_fn, str(tmp_path / "job"), devices.Runtime("npu")))
    assert lines == [] and os.environ["JOB_ID"] == "4242"
    with pytest.raises(ValueError) as error:
        devices.build_estimator(no_model_fn, model_dir, devices.Runtime("npu", xla=True))
    assert str(error.value) == "--xla is for --device=gpu or cpu (the NPU compiles its graphs itself)"


@pytest.mark.parametrize("environ,expected", [
    ({}, (1, 0)),
    ({"RANK_SIZE": "8", "RANK_ID": "3"}, (8, 3)),
    ({"RANK_SIZE": "8"}, (8, 0)),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}})}, (1, 0)),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}})},
     (2, 1)),
    ({"TF_CONFIG": json.dumps({"cluster": {"chief": ["c:1"], "worker": ["a:1", "b:1"]},
                               "task": {"type": "worker", "index": 1}})}, (3, 2)),
    ({"TF_CONFIG": json.dumps({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief"}})},
     (2, 0)),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1", "b:1"]}})}, (2, 0)),  # no task: the first
])
def test_cluster_rank_from_ascend_variables_or_tf_config(environ, expected, monkeypatch):
    assert devices.cluster_rank(environ) == expected
    for name in ("RANK_SIZE", "RANK_ID", "TF_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "environ", dict(os.environ, **environ))
    assert devices.cluster_rank() == expected  # the process's own environment by default


def test_jit_compiled_marks_the_model_fn_ops_for_xla():
    with tf.Graph().as_default() as graph:
        outside = tf.constant(1.0, name="outside")
        devices.jit_compiled(add_one_model_fn)(outside, tf.constant(2.0), tf.estimator.ModeKeys.TRAIN)
        assert graph.get_operation_by_name("inside").get_attr("_XlaCompile") is True
        assert "_XlaCompile" not in graph.get_operation_by_name("outside").node_def.attr
