"""Which Estimator runs the model: NPUEstimator on Ascend, tf.estimator.Estimator on GPU and CPU.

This is the only module that imports npu_bridge, and only for device 'npu'.
"""
import os

import tensorflow.compat.v1 as tf

DEVICES = ("npu", "gpu", "cpu")
NPU_PRECISION_MODES = ("allow_mix_precision", "allow_fp32_to_fp16", "must_keep_origin_dtype", "force_fp16",
                       "force_fp32")
DEFAULT_JOB_ID = "10087"
DYNAMIC_LOSS_SCALE = dict(init_loss_scale=2 ** 32, incr_every_n_steps=1000, decr_every_n_nan_or_inf=2,
                          decr_ratio=0.5)


def import_npu_bridge():
    """Returns `npu_bridge.npu_init`, or raises a one-line ImportError saying what to install."""
    try:
        from npu_bridge import npu_init  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise ImportError("--device=npu needs Huawei's npu_bridge (the CANN TensorFlow 1.15 adapter): run in an "
                          "Ascend TensorFlow image or install CANN's tfplugin (%s)" % error)
    return npu_init


def check_device_options(device, precision, precision_mode):
    """Raises ValueError for an unknown device, precision or NPU precision mode."""
    if device not in DEVICES:
        raise ValueError("--device=%s: expected one of %s" % (device, ", ".join(DEVICES)))
    if precision not in ("fp32", "mixed"):
        raise ValueError("--precision=%s: expected fp32 or mixed" % precision)
    if precision == "mixed" and device == "cpu":
        raise ValueError("--precision=mixed needs --device=gpu (the NPU's is set by --precision_mode)")
    if precision_mode not in NPU_PRECISION_MODES:
        raise ValueError("--precision_mode=%s: expected one of %s" % (precision_mode, ", ".join(NPU_PRECISION_MODES)))


def optimizer_wrapper(device, precision="fp32", loss_scale="dynamic", rank_size=1):
    """Returns callable(optimizer) -> optimizer for the device.

    npu: NPUDistributedOptimizer (allreduce across RANK_SIZE devices) then NPULossScaleOptimizer with an
      exponential-update loss scale manager, or a fixed one when loss_scale is a number.
    gpu with precision 'mixed': the mixed-precision graph rewrite, which adds loss scaling.
    otherwise: the optimizer unchanged.
    The wrapped optimizer must be used through minimize() (or its compute/apply_gradients) so that the
    loss scale applies.
    """
    if device == "npu":
        npu = import_npu_bridge()

        def wrap_npu(optimizer):
            optimizer = npu.NPUDistributedOptimizer(optimizer)
            if loss_scale == "dynamic":
                manager = npu.ExponentialUpdateLossScaleManager(**DYNAMIC_LOSS_SCALE)
            else:
                manager = npu.FixedLossScaleManager(loss_scale=float(loss_scale))
            return npu.NPULossScaleOptimizer(optimizer, manager, is_distributed=rank_size > 1)
        return wrap_npu
    if device == "gpu" and precision == "mixed":
        def wrap_mixed(optimizer):
            scale = "dynamic" if loss_scale == "dynamic" else float(loss_scale)
            return tf.train.experimental.enable_mixed_precision_graph_rewrite(optimizer, loss_scale=scale)
        return wrap_mixed
    return lambda optimizer: optimizer


def distribution_strategy(device, num_devices=1, multi_worker=False):
    """The tf.distribute strategy for GPU/CPU data parallelism, or None for one device.

    multi_worker: MultiWorkerMirroredStrategy over the cluster in TF_CONFIG (collective all-reduce).
    num_devices > 1: MirroredStrategy over /gpu:0..N-1, or N logical CPU devices for device 'cpu'.
    Each replica receives a whole P x K batch from the input_fn; gradients are averaged over replicas.
    """
    if multi_worker:
        return tf.distribute.experimental.MultiWorkerMirroredStrategy()
    if num_devices > 1:
        kind = "gpu" if device == "gpu" else "cpu"
        return tf.distribute.MirroredStrategy(["/%s:%d" % (kind, i) for i in range(num_devices)])
    return None


def build_estimator(model_fn, device, model_dir, save_checkpoints_steps, keep_checkpoint_max=5,
                    log_step_count_steps=100, save_summary_steps=100, iterations_per_loop=1,
                    precision_mode="allow_mix_precision", random_seed=None, num_devices=1, multi_worker=False):
    """Returns the Estimator for the device.

    npu: NPUEstimator with an NPURunConfig carrying precision_mode and iterations_per_loop (JOB_ID is set
      to a default when the environment lacks it, as the Ascend runtime requires one).
    gpu, cpu: tf.estimator.Estimator; cpu hides any GPU. With num_devices > 1 or multi_worker, training
      is data parallel through `distribution_strategy`.
    """
    session_config = tf.ConfigProto(allow_soft_placement=True)
    if device == "npu":
        npu = import_npu_bridge()
        if "JOB_ID" not in os.environ:
            tf.logging.info("JOB_ID not set; using %s", DEFAULT_JOB_ID)
            os.environ["JOB_ID"] = DEFAULT_JOB_ID
        config = npu.NPURunConfig(
            model_dir=model_dir, save_checkpoints_steps=save_checkpoints_steps,
            keep_checkpoint_max=keep_checkpoint_max, log_step_count_steps=log_step_count_steps,
            save_summary_steps=save_summary_steps, session_config=session_config,
            iterations_per_loop=iterations_per_loop, precision_mode=precision_mode, tf_random_seed=random_seed)
        return npu.NPUEstimator(model_fn=model_fn, model_dir=model_dir, config=config)
    if device == "cpu":
        session_config.device_count["GPU"] = 0
        session_config.device_count["CPU"] = max(1, num_devices)
    else:
        session_config.gpu_options.allow_growth = True
    config = tf.estimator.RunConfig(
        model_dir=model_dir, save_checkpoints_steps=save_checkpoints_steps, keep_checkpoint_max=keep_checkpoint_max,
        log_step_count_steps=log_step_count_steps, save_summary_steps=save_summary_steps,
        session_config=session_config, tf_random_seed=random_seed,
        train_distribute=distribution_strategy(device, num_devices, multi_worker))
    return tf.estimator.Estimator(model_fn=model_fn, model_dir=model_dir, config=config)
