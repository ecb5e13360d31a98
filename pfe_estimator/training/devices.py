"""Which Estimator runs the model: NPUEstimator on Ascend, tf.estimator.Estimator on GPU and CPU.

This is the only module that imports npu_bridge, and only for device 'npu'.
"""
import collections
import contextlib
import json
import os
import sys
import tempfile

import tensorflow.compat.v1 as tf

from pfe_estimator import errors

DEVICES = ("npu", "gpu", "cpu")
NPU_PRECISION_MODES = ("allow_mix_precision", "allow_fp32_to_fp16", "must_keep_origin_dtype", "force_fp16",
                       "force_fp32")
DEFAULT_JOB_ID = "10087"
# What XLA's first compilation logs through absl, which TF_CPP_MIN_LOG_LEVEL does not silence.
XLA_NOTICES = ("All log messages before absl::InitializeLog() is called are written to STDERR",
               "Compiled cluster using XLA!")
DYNAMIC_LOSS_SCALE = dict(init_loss_scale=2 ** 32, incr_every_n_steps=1000, decr_every_n_nan_or_inf=2,
                          decr_ratio=0.5)


class NpuDebug(collections.namedtuple("NpuDebug", [
        "over_dump", "over_dump_path", "data_dump", "data_dump_step", "data_dump_path", "profiling",
        "profiling_dump_path"])):
    """The ModelZoo debugging switches (--over_dump, --data_dump_flag, --data_dump_step, --profiling) and
    where their output goes; they configure the NPU only."""

    def any(self):
        return bool(self.over_dump or self.data_dump or self.profiling)


NO_NPU_DEBUG = NpuDebug(False, None, False, "10", None, False, None)


class Runtime(collections.namedtuple("Runtime", [
        "device", "precision", "loss_scale", "precision_mode", "iterations_per_loop", "num_devices", "workers",
        "xla", "random_seed", "save_checkpoints_steps", "keep_checkpoint_max", "log_every_n_steps", "npu_debug",
        "rank"])):
    """Where and how a model runs, apart from what it learns (training.recipe).

    Fields:
      device: one of DEVICES. precision: 'fp32' or 'mixed' (GPU). loss_scale: 'dynamic' or a number (NPU,
      GPU mixed). precision_mode: the NPU's. iterations_per_loop: NPU steps per session run.
      num_devices: data-parallel replicas on this machine (GPU/CPU). workers: processes of the job
      (cluster_rank()[0]). xla: XLA auto-clustering (GPU/CPU). random_seed: the graph seed (main.py's
      --random_seed, a fold head's seed) or None.
      save_checkpoints_steps, keep_checkpoint_max, log_every_n_steps: checkpoints and the step log.
      npu_debug: an NpuDebug. rank: this process's rank in the job (cluster_rank()[1]); rank 0 is the chief,
      which owns the model folder.
    """
    __slots__ = ()

    @property
    def steps_per_run(self):
        """Training steps one session run executes: the NPU's iterations_per_loop, else 1."""
        return self.iterations_per_loop if self.device == "npu" else 1

    @property
    def is_chief(self):
        """Whether this process owns the model folder (its lock, record and checkpoints)."""
        return self.rank == 0

    @property
    def multi_worker(self):
        """A multi-worker GPU/CPU job (TF_CONFIG); NPU jobs of several devices are the adapter's."""
        return self.device != "npu" and self.workers > 1


Runtime.__new__.__defaults__ = ("cpu", "fp32", "dynamic", "allow_mix_precision", 1, 1, 1, False, None, 1000, 5, 100,
                                NO_NPU_DEBUG, 0)


def npu_debug_configs(npu, debug):
    """(dump_config, profiling_config) for NPURunConfig, each None when its switches are off.

    Overflow detection is the adapter's dump debug mode ("all"); a data dump writes every op's inputs and
    outputs at the steps `data_dump_step` names ("10", "0|5|10"); profiling traces training and tasks.
    """
    dump_config = profiling_config = None
    if debug.over_dump or debug.data_dump:
        for path in (debug.over_dump_path if debug.over_dump else None,
                     debug.data_dump_path if debug.data_dump else None):
            if path and not os.path.isdir(path):
                os.makedirs(path)
        dump_config = npu.DumpConfig(
            enable_dump=bool(debug.data_dump),
            dump_path=debug.data_dump_path if debug.data_dump else debug.over_dump_path,
            dump_step=str(debug.data_dump_step) if debug.data_dump else None, dump_mode="all",
            enable_dump_debug=bool(debug.over_dump), dump_debug_mode="all")
    if debug.profiling:
        if not os.path.isdir(debug.profiling_dump_path):
            os.makedirs(debug.profiling_dump_path)
        profiling_config = npu.ProfilingConfig(enable_profiling=True, profiling_options=json.dumps({
            "output": debug.profiling_dump_path, "training_trace": "on", "task_trace": "on", "aicpu": "on",
            "fp_point": "", "bp_point": ""}))
    return dump_config, profiling_config


def import_npu_bridge():
    """Returns `npu_bridge.npu_init`, or raises a one-line errors.MissingDependencyError (an ImportError)
    saying what to install."""
    try:
        from npu_bridge import npu_init  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        raise errors.MissingDependencyError(
            "--device=npu needs Huawei's npu_bridge (the CANN TensorFlow 1.15 adapter): run in an Ascend TensorFlow "
            "image or install CANN's tfplugin (%s)" % error)
    return npu_init


def cluster_rank(environ=None):
    """(rank_size, rank_id) of an Ascend multi-device run (RANK_SIZE/RANK_ID), or of a TF_CONFIG cluster;
    (1, 0) for one process."""
    environ = os.environ if environ is None else environ
    if "RANK_SIZE" in environ:
        return int(environ["RANK_SIZE"]), int(environ.get("RANK_ID", "0"))
    cluster = json.loads(environ.get("TF_CONFIG", "{}"))
    workers = len(cluster.get("cluster", {}).get("worker", [])) + len(cluster.get("cluster", {}).get("chief", []))
    if workers > 1:
        task = cluster.get("task", {})
        chief_first = task.get("type") == "worker" and "chief" in cluster["cluster"]
        return workers, int(task.get("index", 0)) + (1 if chief_first else 0)
    return 1, 0


def check_device_options(device, precision, precision_mode):
    """Raises ValueError for an unknown device, precision or NPU precision mode."""
    if device not in DEVICES:
        raise errors.UserError("--device=%s: expected one of %s" % (device, ", ".join(DEVICES)))
    if precision not in ("fp32", "mixed"):
        raise errors.UserError("--precision=%s: expected fp32 or mixed" % precision)
    if precision == "mixed" and device == "cpu":
        raise errors.UserError("--precision=mixed needs --device=gpu (the NPU's is set by --precision_mode)")
    if precision_mode not in NPU_PRECISION_MODES:
        raise errors.UserError("--precision_mode=%s: expected one of %s"
                               % (precision_mode, ", ".join(NPU_PRECISION_MODES)))


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


def jit_compiled(model_fn):
    """model_fn whose ops are marked for XLA compilation (on CPUs too, where auto-clustering is off)."""
    def compiled_model_fn(features, labels, mode):
        with tf.xla.experimental.jit_scope():
            return model_fn(features, labels, mode)
    return compiled_model_fn


@contextlib.contextmanager
def xla_notices_held_back():
    """A block that may compile with XLA, its XLA_NOTICES kept off the terminal where TF_CPP_MIN_LOG_LEVEL=3 asks
    for quiet (main.py's default): file descriptor 2 (native and Python lines alike) goes into a temporary file
    for the block, and every other line is written out when it ends or raises (none lost, in their order)."""
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") != "3":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            lines = held.read().decode("utf-8", "replace").splitlines(True)
            sys.stderr.write("".join(line for line in lines if not any(notice in line for notice in XLA_NOTICES)))
            sys.stderr.flush()


def build_estimator(model_fn, model_dir, runtime=Runtime()):
    """Returns the Estimator for runtime.device (a Runtime).

    npu: NPUEstimator with an NPURunConfig carrying precision_mode, iterations_per_loop and the dump and
      profiling configurations of `npu_debug` (JOB_ID is set to a default when the environment lacks it or
      has it empty, as the Ascend runtime requires one).
    gpu, cpu: tf.estimator.Estimator; cpu hides any GPU. With num_devices > 1 or several workers, training
      is data parallel through `distribution_strategy`. xla: XLA auto-clustering (jit) of the graph.
    """
    check_device_options(runtime.device, runtime.precision, runtime.precision_mode)
    device, npu_debug, num_devices = runtime.device, runtime.npu_debug, runtime.num_devices
    checkpointing = dict(model_dir=model_dir, save_checkpoints_steps=runtime.save_checkpoints_steps,
                         keep_checkpoint_max=runtime.keep_checkpoint_max,
                         log_step_count_steps=runtime.log_every_n_steps, save_summary_steps=runtime.log_every_n_steps,
                         tf_random_seed=runtime.random_seed)
    session_config = tf.ConfigProto(allow_soft_placement=True)
    if runtime.xla:
        if device == "npu":
            raise errors.UserError("--xla is for --device=gpu or cpu (the NPU compiles its graphs itself)")
        model_fn = jit_compiled(model_fn)
    if device == "npu":
        npu = import_npu_bridge()
        if not os.environ.get("JOB_ID"):
            tf.logging.info("JOB_ID not set; using %s", DEFAULT_JOB_ID)
            os.environ["JOB_ID"] = DEFAULT_JOB_ID
        dump_config, profiling_config = npu_debug_configs(npu, npu_debug)
        config = npu.NPURunConfig(
            session_config=session_config, iterations_per_loop=runtime.iterations_per_loop,
            precision_mode=runtime.precision_mode, dump_config=dump_config, profiling_config=profiling_config,
            **checkpointing)
        return npu.NPUEstimator(model_fn=model_fn, model_dir=model_dir, config=config)
    if npu_debug.any():
        tf.logging.info("--over_dump, --data_dump_flag and --profiling configure the NPU; ignored on --device=%s",
                        device)
    if device == "cpu":
        session_config.device_count["GPU"] = 0
        session_config.device_count["CPU"] = max(1, num_devices)
    else:
        session_config.gpu_options.allow_growth = True
    config = tf.estimator.RunConfig(
        session_config=session_config, train_distribute=distribution_strategy(device, num_devices,
                                                                              runtime.multi_worker),
        **checkpointing)
    return tf.estimator.Estimator(model_fn=model_fn, model_dir=model_dir, config=config)
