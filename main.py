"""pfe-estimator entry point: pretrain, train, evaluate, predict and export Probabilistic Face Embeddings.

  python main.py --mode=train --data=synthetic --backbone=sphere20 --max_steps=20
  python main.py --mode=pretrain --data_dir=tfrecords/casia --backbone=sphere64 --model_dir=pretrained/sphere64_am
  python main.py --mode=train --device=npu --data_dir=tfrecords/casia --pretrained_ckpt=pretrained/sphere64_casia_am
  python main.py --mode=eval --model_dir=ckpt/pfe --lfw_dir=tfrecords/lfw --lfw_pairs=pairs.txt --report_dir=report
  python main.py --mode=export --model_dir=ckpt/pfe --export_dir=export/pfe
  python main.py --mode=predict --model_dir=ckpt/pfe --predict_dir=aligned_faces --predict_output=features.npz
  python main.py --mode=cache_features --backbone=onnx:sface.onnx --image_size=112,112 --data_dir=... --cache_dir=...

This is the only module that reads flags. Training imports only TensorFlow, numpy and absl (and npu_bridge
on the NPU): the modes that read images or draw plots import OpenCV and matplotlib where they start.
"""
import contextlib
import errno
import json
import logging
import math
import os
import sys
import time

# Quiet by default: TensorFlow's C++ start-up lines only with --verbose (read before TensorFlow loads).
if not any(arg in ("--verbose", "--verbose=true", "--verbose=1") for arg in sys.argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402


from pfe_estimator.data import embedding_files

from pfe_estimator.faces import alignment

from pfe_estimator import errors
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import checkpoints
from pfe_estimator.model import compute_precision
from pfe_estimator.model import backbones
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import protocols
from pfe_estimator.evaluation import calibration
from pfe_estimator.inference import export
from pfe_estimator.data import feature_cache
from pfe_estimator.data import pk_sampling
from pfe_estimator.storage import model_config
from pfe_estimator.storage import model_dir_lock
from pfe_estimator.training import pfe_model
from pfe_estimator.storage import outputs
from pfe_estimator.training import pretrain
from pfe_estimator.training import devices
from pfe_estimator.training import optimization
from pfe_estimator.model import sphere_net
from pfe_estimator.data import tfrecord_schema

FLAGS = flags.FLAGS

flags.DEFINE_enum("mode", "train", ["train", "eval", "predict", "export", "cache_features", "pretrain", "verify"],
                  "What to do. pretrain: train the SphereNet backbone with AM-softmax (its checkpoint is what "
                  "--pretrained_ckpt takes); verify: are --image_a and --image_b the same person?")
flags.DEFINE_enum("device", "cpu", list(devices.DEVICES), "npu: NPUEstimator (Ascend); gpu/cpu: tf.estimator.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "mixed"], "GPU precision: 'mixed' = graph rewrite + loss scaling.")
flags.DEFINE_bool("verbose", False, "Also print TensorFlow's own log lines (configs, deprecations, C++ start-up).")
flags.DEFINE_bool("xla", False, "XLA jit compilation (auto-clustering) of the training graph, on --device=gpu or cpu.")
flags.DEFINE_enum("backbone_precision", "fp32", sorted(compute_precision.PRECISIONS),
                  "The frozen backbone's convolutions and products: bf16 on CPUs with AVX512_BF16/AMX (oneDNN) "
                  "or GPUs with bf16; the head and the MLS loss stay fp32.")
flags.DEFINE_enum("precision_mode", "allow_mix_precision", list(devices.NPU_PRECISION_MODES),
                  "NPU precision mode (NPURunConfig).")
flags.DEFINE_string("loss_scale", "dynamic", "'dynamic' or a fixed loss scale, for npu and gpu mixed precision.")
flags.DEFINE_bool("over_dump", False, "npu: overflow detection (the adapter's dump debug mode) into --over_dump_path.")
flags.DEFINE_string("over_dump_path", "output/overflow_dump", "npu: where --over_dump writes.")
flags.DEFINE_bool("data_dump_flag", False, "npu: dump every op's inputs and outputs at --data_dump_step into "
                  "--data_dump_path.")
flags.DEFINE_string("data_dump_step", "10", "npu: the steps to dump, e.g. 10 or 0|5|10.")
flags.DEFINE_string("data_dump_path", "output/data_dump", "npu: where --data_dump_flag writes.")
flags.DEFINE_bool("profiling", False, "npu: training and task traces into --profiling_dump_path.")
flags.DEFINE_string("profiling_dump_path", "output/profiling", "npu: where --profiling writes.")
flags.DEFINE_integer("iterations_per_loop", 1, "NPU steps per session run; divides max_steps and "
                     "save_checkpoints_steps.", lower_bound=1)

flags.DEFINE_enum("data", "tfrecord", ["tfrecord", "synthetic"], "Training data: --data_dir TFRecords, or "
                  "random P x K batches for smoke and throughput runs.")
flags.DEFINE_string("data_dir", None, "Folder of TFRecords from data_prep/make_tfrecords.py (one record per "
                    "identity, sampled P x K), or a feature cache from --mode=cache_features (then the head trains "
                    "without the backbone).")
flags.DEFINE_string("cache_dir", None, "cache_features: output folder of the frozen backbone's cached outputs.")
flags.DEFINE_enum("cache_dtype", "float16", ["float16", "float32"], "cache_features: storage of the head's input "
                  "features (float32 reproduces the image path exactly, at twice the disk).")
flags.DEFINE_float("degrade_probability", 0.0, "train from images: quality-aware training, each image degraded with "
                   "this probability by a random kind (blur, downscale, JPEG, occlusion) and severity, its identity "
                   "kept (pfe_estimator/faces/degradations.py; needs OpenCV).", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_integer("cache_degraded_copies", 0, "cache_features: also cache this many degraded copies of every image "
                     "(random kind and severity, seeded) as further images of its identity, for quality-aware head "
                     "training from the cache.", lower_bound=0)
flags.DEFINE_string("model_dir", "ckpt/pfe", "Checkpoints and summaries; training resumes from here.")
flags.DEFINE_string("pretrained_ckpt", None, "Backbone checkpoint (folder or prefix) restored into SphereNet/.")

flags.DEFINE_string("backbone", "sphere64", "Frozen backbone: %s, or onnx:PATH (a frozen ONNX face model)."
                    % "|".join(sphere_net.backbone_names()))
flags.DEFINE_string("embedding_node", None, "onnx: value whose L2-normalised output is mu (default: the graph output).")
flags.DEFINE_string("feature_node", None, "onnx: value flattened into the head's input (default: the input of the "
                    "last Flatten or Gemm).")
flags.DEFINE_float("onnx_input_scale", 128.0, "onnx: model input = standardised image * scale + offset "
                   "(defaults give 0..255 pixels, as SFace expects).")
flags.DEFINE_float("onnx_input_offset", 127.5, "onnx: see --onnx_input_scale.")
flags.DEFINE_enum("onnx_input_channels", "rgb", ["rgb", "bgr"], "onnx: the model's channel order.")
flags.DEFINE_list("image_size", ["112", "96"], "Input height,width.")
flags.DEFINE_integer("embedding_size", 512, "Embedding dimension D.", lower_bound=1)
flags.DEFINE_integer("batch_size", 256, "Images per step = num_classes_per_batch x images per class.", lower_bound=1)
flags.DEFINE_integer("num_classes_per_batch", 64, "Identities per batch (P).", lower_bound=1)
flags.DEFINE_integer("max_steps", 3000, "Total training steps (global step to stop at).", lower_bound=1)
flags.DEFINE_list("lr_values", ["1e-3", "1e-4"], "Piecewise-constant learning rates.")
flags.DEFINE_list("lr_boundaries", None, "Global steps at which the learning rate changes (default: the paper's "
                  "schedule scaled to --max_steps, the drop at two thirds: 2000 of 3000; pretrain: 16000,24000 of "
                  "28000 scaled likewise).")
flags.DEFINE_float("momentum", 0.9, "Momentum.")
flags.DEFINE_float("am_scale", 30.0, "pretrain: AM-softmax scale s.")
flags.DEFINE_float("am_margin", 0.35, "pretrain: AM-softmax additive margin m.")
flags.DEFINE_float("weight_decay", 5e-4, "L2 weight decay on the uncertainty head (pretrain: on every weight).")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint interval in steps.", lower_bound=1)
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept.", lower_bound=0)
flags.DEFINE_integer("log_every_n_steps", 100, "Interval of the loss, steps/s and images/s log.", lower_bound=1)
flags.DEFINE_integer("random_seed", None, "Graph-level random seed.")
flags.DEFINE_integer("num_devices", 1, "gpu/cpu: data-parallel replicas (MirroredStrategy), each taking a whole "
                     "P x K batch: the global batch is num_devices x batch_size. Multi-worker training is "
                     "switched on by a TF_CONFIG naming more than one worker.", lower_bound=1)

flags.DEFINE_string("export_dir", "export/pfe", "export: output folder (SavedModel + pfe_frozen.pb).")
flags.DEFINE_string("predict_dir", None, "predict: folder of aligned face images (searched recursively).")
flags.DEFINE_string("predict_output", "features.npz", "predict: .npz of names, mu [N,D], sigma_sq [N,D].")
flags.DEFINE_enum("align", "none", ["none", "detect"], "predict/eval image files: none = aligned crops (centre-cropped "
                  "when larger, as the released code does); detect = raw photos: YuNet finds 5 landmarks and the "
                  "face is aligned as data_prep does (--detector_model, --alignment).")
flags.DEFINE_string("detector_model", None,
                    "--align=detect: OpenCV Zoo YuNet .onnx (face_detection_yunet_2023mar*.onnx).")
flags.DEFINE_enum("alignment", "cp2tform", list(alignment.ALIGNMENT_METHODS), "--align=detect: similarity fit, as "
                  "data_prep's --alignment.")
flags.DEFINE_bool("resize", False, "predict/eval: resize aligned crops of another size to --image_size instead of "
                  "centre-cropping larger ones and refusing smaller ones.")

flags.DEFINE_string("lfw_dir", None,
                    "eval: aligned LFW TFRecords (data_prep/make_tfrecords.py --min_images_per_identity=1).")
flags.DEFINE_string("lfw_pairs", None, "eval: LFW pairs.txt (10 folds of 300 genuine + 300 impostor pairs).")
flags.DEFINE_string("features", None, "eval: precomputed .npz (names, mu, sigma_sq) instead of running a model.")
flags.DEFINE_string("saved_model", None, "eval: an exported SavedModel (--mode=export) instead of --model_dir.")
flags.DEFINE_string("features_output", None, "eval: also save the extracted LFW features to this .npz.")
flags.DEFINE_string("templates_csv", None, "eval: `template_id,path` CSV (IJB-style templates).")
flags.DEFINE_string("template_pairs_csv", None, "eval: `template_a,template_b,label` CSV.")
flags.DEFINE_string("template_image_root", None, "eval: folder the template CSV's paths are relative to (when "
                    "features come from the model).")
flags.DEFINE_enum("fusion", "paper", ["paper", "released"], "eval: template fusion: the paper's, or the released "
                  "code's (normalised mu, min sigma^2).")
flags.DEFINE_string("report_dir", "report", "eval: report.json and PNG plots go here.")
flags.DEFINE_string("calibration_pairs", None, "train: after training, fit P(same identity | MLS) on these pairs "
                    "(LFW pairs.txt format) of the --lfw_dir images and keep it with the model "
                    "(model_dir/calibration.json) for --mode=verify.")
flags.DEFINE_string("image_a", None, "verify: a face image (aligned crop, or a raw photo with --align=detect).")
flags.DEFINE_string("image_b", None, "verify: the other face image.")
flags.DEFINE_float("far", 1e-3, "verify: the false accept rate of the decision threshold (calibrated thresholds: "
                   "1e-3, 1e-2 and the --far given at training).", lower_bound=0.0, upper_bound=1.0)
flags.DEFINE_bool("overwrite", False, "Replace an output (--export_dir, --cache_dir, --report_dir, "
                  "--predict_output, --features_output) that exists and is not this pipeline's output of the "
                  "same kind, or a cache made from other inputs; without it such a target is refused.")


def _validate_image_size(value):
    try:
        return len(value) == 2 and all(int(v) > 0 for v in value)
    except ValueError:
        return False


def _validate_numbers(kind):
    def validate(values):
        if values is None:
            return True
        try:
            [kind(v) for v in values]
        except ValueError:
            return False
        return True
    return validate


flags.register_validator("loss_scale", lambda value: value == "dynamic" or _validate_numbers(float)([value]) and
                         float(value) >= 1, "must be 'dynamic' or a number >= 1 (the adapter rejects a smaller scale)")
flags.register_validator("image_size", _validate_image_size, "must be two positive integers HEIGHT,WIDTH, e.g. 112,96")
def _positive_numbers(values):
    return _validate_numbers(float)(values) and all(math.isfinite(float(v)) and float(v) > 0 for v in values)


def _increasing_steps(values):
    if values is None or not _validate_numbers(int)(values):
        return values is None
    steps = [int(v) for v in values]
    return all(step > 0 for step in steps) and all(a < b for a, b in zip(steps, steps[1:]))


flags.register_validator("lr_values", _positive_numbers, "must be comma-separated positive numbers, e.g. 1e-3,1e-4")
flags.register_validator("lr_boundaries", _increasing_steps, "must be comma-separated, increasing, positive integer "
                         "steps, e.g. 2000 or 16000,24000")
flags.register_validator("weight_decay", lambda value: math.isfinite(value) and value >= 0,
                         "must be a number >= 0 (0: no weight decay)")
flags.register_validator("momentum", lambda value: math.isfinite(value) and 0 <= value < 1,
                         "must be a number in [0, 1), e.g. 0.9")
for _flag in ("am_scale", "onnx_input_scale"):
    flags.register_validator(_flag, lambda value: math.isfinite(value) and value > 0, "must be a positive number")


class FlagError(errors.UserError):
    """A flag value the run cannot use; main() prints it as one line."""


def image_size():
    height, width = [int(v) for v in FLAGS.image_size]
    return height, width


def images_per_class():
    if FLAGS.batch_size % FLAGS.num_classes_per_batch:
        raise FlagError("--batch_size=%d is not a multiple of --num_classes_per_batch=%d"
                        % (FLAGS.batch_size, FLAGS.num_classes_per_batch))
    return FLAGS.batch_size // FLAGS.num_classes_per_batch


def backbone():
    """The frozen backbone from the flags: --backbone, --embedding_size and its options (ONNX import
    options, a precision other than fp32; None for an fp32 SphereNet)."""
    options = {}
    if backbones.is_onnx(FLAGS.backbone):
        options.update(embedding_node=FLAGS.embedding_node, feature_node=FLAGS.feature_node,
                       input_scale=FLAGS.onnx_input_scale, input_offset=FLAGS.onnx_input_offset,
                       input_channels=FLAGS.onnx_input_channels)
    if FLAGS.backbone_precision != "fp32":
        if FLAGS.device == "npu":
            raise FlagError("--backbone_precision=%s is for CPUs and GPUs; on the NPU use --precision_mode"
                            % FLAGS.backbone_precision)
        reason = compute_precision.unsupported_reason(FLAGS.backbone_precision)
        if reason:
            raise FlagError(reason)
        options["precision"] = FLAGS.backbone_precision
    return backbones.Backbone(FLAGS.backbone, FLAGS.embedding_size, options or None)


# Flags that took their value from a record (model folder or feature cache), with the record's path.
ADOPTED = {}
# --model_dir's record once read (empty for a folder without one).
MODEL_RECORD = {}


def _flag_value(name):
    """A recorded flag's value as records hold it (image size as [H, W], a checkpoint as its absolute prefix)."""
    if name == "image_size":
        return list(image_size())
    if name == "pretrained_ckpt" and FLAGS.pretrained_ckpt:
        return os.path.abspath(checkpoints.resolve_checkpoint(FLAGS.pretrained_ckpt))
    return FLAGS[name].value


def adopt_record(record, where):
    """Flags not given take a record's values; a given (or already adopted) one that contradicts it is an error.

    Args:
      record: {flag name: value} (model_config.FLAG_KEYS), e.g. a model folder's pfe_config.json.
      where: the record's file, for messages.
    """
    given = {name: _flag_value(name) for name in model_config.FLAG_KEYS if FLAGS[name].present or name in ADOPTED}
    for name, recorded, value in model_config.conflicts(record, given):
        source = " (taken from %s)" % ADOPTED[name] if name in ADOPTED else ""
        raise FlagError("--%s=%s%s contradicts %s, which records %s; drop the flag or use another folder" % (
            name, ",".join(map(str, value)) if isinstance(value, list) else value, source, where,
            ",".join(map(str, recorded)) if isinstance(recorded, list) else recorded))
    for name in model_config.FLAG_KEYS:
        if name == "pretrained_ckpt" and record.get(name) and not os.path.exists(record[name] + ".index"):
            tf.logging.warning("%s names the backbone checkpoint %s, which is gone; the backbone is restored from "
                               "the model's own checkpoint", where, record[name])
            continue
        if name in record and name not in given:
            FLAGS[name].value = [str(v) for v in record[name]] if name == "image_size" else record[name]
            ADOPTED[name] = where
    check_run_paths()


def current_record(kind, template=None):
    """The model folder record of this run: what predict, eval and export must repeat."""
    record = {"model": kind, "template": template, "backbone": FLAGS.backbone, "image_size": list(image_size()),
              "embedding_size": FLAGS.embedding_size, "pretrained_ckpt": _flag_value("pretrained_ckpt")}
    if backbones.is_onnx(FLAGS.backbone):
        record["onnx_sha256"] = outputs.file_digest(FLAGS.backbone[len(backbones.ONNX_PREFIX):])
        record.update({flag: FLAGS[flag].value for flag in model_config.ONNX_OPTION_FLAGS.values()})
    return record


def adopt_model_dir_record(kind):
    """Reads --model_dir's record: flags not given take its values, contradicting ones are refused, and its
    ONNX file must be the one it was trained with. A folder without a record (a released model) passes."""
    record = model_config.read(FLAGS.model_dir)
    if record is None:
        return None
    where = model_config.config_path(FLAGS.model_dir)
    if record.get("model") != kind:
        raise FlagError("--model_dir=%s holds a %s model (%s), not a %s one" % (FLAGS.model_dir, record.get("model"),
                                                                               where, kind))
    adopt_record(record, where)
    MODEL_RECORD.update(record)
    if record.get("onnx_sha256"):
        path = FLAGS.backbone[len(backbones.ONNX_PREFIX):]
        if outputs.file_digest(path) != record["onnx_sha256"]:
            raise FlagError("%s: not the ONNX file %s was trained with (sha256 differs from %s); give that file"
                            % (path, FLAGS.model_dir, where))
    return record


def check_cache_fits_model(cache_dir, flag):
    """The head evaluated on a feature cache must have been trained on that cache's backbone and checkpoint
    (as training from a cache takes them): compared with --model_dir's record, else with the flags."""
    cache_record = model_config.from_cache_manifest(pk_sampling.read_manifest(cache_dir))
    where = os.path.join(cache_dir, tfrecord_schema.MANIFEST_NAME)
    if not MODEL_RECORD:
        adopt_record(cache_record, where)
        return
    for name, cached, trained in model_config.conflicts(cache_record, dict(
            (key, MODEL_RECORD.get(key)) for key in model_config.FLAG_KEYS if key in cache_record)):
        raise FlagError("--%s=%s is a feature cache whose %s is %s (%s); the head in --model_dir=%s was trained with "
                        "%s: cache the images with that backbone (--mode=cache_features), or evaluate on image "
                        "records" % (flag, cache_dir, name, cached, where, FLAGS.model_dir,
                                     trained or "the backbone in its own checkpoint"))


def chief():
    """Whether this process is the one that owns --model_dir (rank 0, or the only one)."""
    return devices.cluster_rank()[1] == 0


def optimizer_config(learning_rate_values, learning_rate_boundaries):
    """Momentum at those learning rates, wrapped for the device (loss scaling, NPU allreduce)."""
    return optimization.OptimizerConfig([float(v) for v in learning_rate_values], learning_rate_boundaries,
                                        FLAGS.momentum, devices.optimizer_wrapper(FLAGS.device, FLAGS.precision,
                                                                                  FLAGS.loss_scale,
                                                                                  devices.cluster_rank()[0]))


def pfe_model_fn():
    """The PFE model_fn from the flags; P and K matter only when training (predict takes any batch size)."""
    backbones.check_backbone_name(FLAGS.backbone)
    if FLAGS.pretrained_ckpt and backbones.is_onnx(FLAGS.backbone):
        raise FlagError("--pretrained_ckpt does not apply to --backbone=onnx:... (its weights are in the model)")
    training = FLAGS.mode == "train"
    boundaries = learning_rate_boundaries(
        lambda: optimization.default_learning_rate_boundaries(FLAGS.max_steps, len(FLAGS.lr_values)))
    return pfe_model.pfe_model_fn_builder(
        backbone=backbone(), num_classes_per_batch=FLAGS.num_classes_per_batch if training else None,
        images_per_class=images_per_class() if training else None,
        optimizer_config=optimizer_config(FLAGS.lr_values, boundaries), weight_decay=FLAGS.weight_decay,
        pretrained_checkpoint=FLAGS.pretrained_ckpt, log_every_n_steps=FLAGS.log_every_n_steps,
        num_replicas=FLAGS.num_devices * devices.cluster_rank()[0], steps_per_run=steps_per_run())


def learning_rate_boundaries(default):
    """--lr_boundaries as ints when given, else default() (the schedule scaled to the run's steps)."""
    return [int(v) for v in FLAGS.lr_boundaries] if FLAGS.lr_boundaries is not None else default()


def steps_per_run():
    """Training steps per session run: the NPU's iterations_per_loop, else 1."""
    return FLAGS.iterations_per_loop if FLAGS.device == "npu" else 1


def pretrain_schedule():
    """(learning rates, boundaries, max steps): the flags when given, else pretraining's own defaults, its
    boundaries scaled to the steps."""
    values = FLAGS.lr_values if FLAGS["lr_values"].present else pretrain.DEFAULT_LEARNING_RATES
    max_steps = FLAGS.max_steps if FLAGS["max_steps"].present else pretrain.DEFAULT_MAX_STEPS
    boundaries = learning_rate_boundaries(lambda: pretrain.default_learning_rate_boundaries(max_steps))
    return [float(v) for v in values], boundaries, max_steps


def pretrain_model_fn(num_classes):
    if backbones.is_onnx(FLAGS.backbone):
        raise FlagError("--mode=pretrain trains a SphereNet, not an ONNX model")
    backbones.check_backbone_name(FLAGS.backbone)
    values, boundaries, _ = pretrain_schedule()
    return pretrain.pretrain_model_fn_builder(
        backbones.Backbone(FLAGS.backbone, FLAGS.embedding_size), num_classes, optimizer_config(values, boundaries),
        FLAGS.weight_decay, FLAGS.am_scale,
        FLAGS.am_margin, FLAGS.batch_size * FLAGS.num_devices * devices.cluster_rank()[0], FLAGS.log_every_n_steps,
        steps_per_run())


def make_estimator(model_fn=None):
    """The device's Estimator around `model_fn` (default: the PFE model_fn)."""
    devices.check_device_options(FLAGS.device, FLAGS.precision, FLAGS.precision_mode)
    return devices.build_estimator(
        model_fn or pfe_model_fn(), FLAGS.device, FLAGS.model_dir, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        keep_checkpoint_max=FLAGS.keep_checkpoint_max, log_step_count_steps=FLAGS.log_every_n_steps,
        save_summary_steps=FLAGS.log_every_n_steps, iterations_per_loop=FLAGS.iterations_per_loop,
        precision_mode=FLAGS.precision_mode, random_seed=FLAGS.random_seed, num_devices=FLAGS.num_devices,
        multi_worker=FLAGS.device != "npu" and devices.cluster_rank()[0] > 1, npu_debug=devices.NpuDebug(
            FLAGS.over_dump, FLAGS.over_dump_path, FLAGS.data_dump_flag, FLAGS.data_dump_step, FLAGS.data_dump_path,
            FLAGS.profiling, FLAGS.profiling_dump_path), xla=FLAGS.xla)


def train_input_fn():
    """The training input_fn; each rank of a multi-device run draws its own P x K batches (seed + rank)."""
    seed = (FLAGS.random_seed or 0) + devices.cluster_rank()[1]
    if FLAGS.data == "synthetic":
        return pk_sampling.synthetic_input_fn_builder(FLAGS.num_classes_per_batch, images_per_class(), image_size(),
                                                    seed=seed)
    if FLAGS.data_dir and feature_cache.is_cache(FLAGS.data_dir):
        return feature_cache.cache_input_fn_builder(FLAGS.data_dir, FLAGS.num_classes_per_batch, images_per_class(),
                                                    seed=seed)
    if FLAGS.data_dir:
        transform = None
        if FLAGS.degrade_probability > 0:
            transform = pk_sampling.host_degradation(random_degradation(FLAGS.data_dir), FLAGS.degrade_probability)
        return pk_sampling.tfrecord_input_fn_builder(FLAGS.data_dir, FLAGS.num_classes_per_batch, images_per_class(),
                                                   image_size(), seed=seed, transform=transform)
    raise FlagError("--data=tfrecord needs --data_dir (TFRecords from data_prep/make_tfrecords.py); "
                         "use --data=synthetic for a smoke run")


def random_degradation(data_dir):
    """degrade(uint8 aligned crop, numpy RandomState) for the records of data_dir (their template's points
    place the occlusions)."""
    from pfe_estimator.faces import degradations  # pylint: disable=import-outside-toplevel  # OpenCV: only when asked
    points = alignment.template(pk_sampling.read_manifest(data_dir)["template"])[1]
    return lambda face, rng: degradations.random_degradation(face, points, rng)


def train(estimator, input_fn, max_steps, record):
    """Estimator training to max_steps; multi-worker runs go through train_and_evaluate.

    The chief holds --model_dir's lock, resumes only from an intact checkpoint it can name (never
    silently from step 0) and writes the folder's record before the first step.
    """
    if FLAGS.device == "npu" and (max_steps % FLAGS.iterations_per_loop or
                                  FLAGS.save_checkpoints_steps % FLAGS.iterations_per_loop):
        raise FlagError("--max_steps and --save_checkpoints_steps must be multiples of --iterations_per_loop")
    with model_dir_lock.locked(FLAGS.model_dir, FLAGS.mode) if chief() else _no_lock():
        if chief():
            resumed = checkpoints.recover_training_checkpoint(FLAGS.model_dir)
            if resumed:
                tf.logging.info("resuming from %s", resumed)
            model_config.write_once(FLAGS.model_dir, record)
        start = time.time()
        if FLAGS.device != "npu" and devices.cluster_rank()[0] > 1:
            # Multi-worker Estimator training runs through train_and_evaluate (the distribute coordinator);
            # evaluation happens only if TF_CONFIG names an evaluator task.
            tf.estimator.train_and_evaluate(estimator, tf.estimator.TrainSpec(input_fn, max_steps=max_steps),
                                            tf.estimator.EvalSpec(input_fn, steps=1, throttle_secs=10 ** 6))
        else:
            with training_errors_named(FLAGS.data_dir if FLAGS.data == "tfrecord" else None):
                estimator.train(input_fn, max_steps=max_steps)
    tf.logging.info("training finished in %.1f s; latest checkpoint %s", time.time() - start,
                    tf.train.latest_checkpoint(FLAGS.model_dir))


@contextlib.contextmanager
def _no_lock():
    yield


@contextlib.contextmanager
def training_errors_named(data_dir):
    """Turns the errors TensorFlow raises mid-training on the user's data or disk into one line: a damaged
    record or image (found by reading data_dir's shards again, naming the shard, record and identity), a
    disk that filled while writing a checkpoint. Anything else passes on unchanged."""
    try:
        yield
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        damage = data_dir and pk_sampling.find_damage(data_dir, pk_sampling.read_manifest(data_dir))
        if not damage:
            raise
        raise FlagError("%s; %s" % (damage, kept_checkpoint())) from error
    except (tf.errors.ResourceExhaustedError, tf.errors.UnknownError, tf.errors.InternalError) as error:
        if not any(text in error.message for text in ("No space left", "File too large", "Disk quota")):
            raise
        raise FlagError("%s: writing failed, the disk is full (%s); %s" % (
            FLAGS.model_dir, one_line(error), kept_checkpoint())) from error


def kept_checkpoint():
    """What an interrupted or failed training leaves, and how to go on."""
    latest = tf.train.latest_checkpoint(FLAGS.model_dir) if os.path.isdir(FLAGS.model_dir) else None
    if latest:
        return "%s keeps %s; rerun the same command to resume from it" % (FLAGS.model_dir, os.path.basename(latest))
    return "no checkpoint was written yet"


def training_data_template():
    """Adopts a feature cache's backbone settings (they made its features); returns the data's template."""
    if FLAGS.data == "synthetic" or not FLAGS.data_dir:
        return None
    manifest = pk_sampling.read_manifest(FLAGS.data_dir)
    if "cache" in manifest:
        adopt_record(model_config.from_cache_manifest(manifest),
                     os.path.join(FLAGS.data_dir, tfrecord_schema.MANIFEST_NAME))
    return manifest.get("template")


CALIBRATION_NAME = "calibration.json"
CALIBRATION_FARS = (1e-3, 1e-2)


# What each mode writes; every other path flag given (and --model_dir) is what it reads or keeps as state.
MODE_OUTPUTS = {"train": ("model_dir",), "pretrain": ("model_dir",), "eval": ("report_dir", "features_output"),
                "predict": ("predict_output",), "export": ("export_dir",), "cache_features": ("cache_dir",),
                "verify": ()}
PATH_FLAGS = ("model_dir", "data_dir", "lfw_dir", "pretrained_ckpt", "lfw_pairs", "features", "saved_model",
              "templates_csv", "template_pairs_csv", "template_image_root", "calibration_pairs", "predict_dir",
              "detector_model", "image_a", "image_b", "backbone", "cache_dir", "report_dir", "export_dir",
              "predict_output", "features_output")


def run_paths(mode, values, given):
    """({flag: path} the mode writes, {flag: path} it reads or keeps), from flag values.

    Args:
      mode: a --mode.
      values: {flag name: value} of PATH_FLAGS (None when unset); --backbone counts when it is onnx:PATH.
      given: names of the flags set on the command line or taken from a record; the mode's outputs and
        --model_dir count with their defaults too.
    """
    paths = dict(values)
    backbone_value = paths.get("backbone") or ""
    paths["backbone"] = backbone_value[len(backbones.ONNX_PREFIX):] if backbones.is_onnx(backbone_value) else None
    written = {flag: paths.get(flag) for flag in MODE_OUTPUTS[mode]}
    read = {flag: paths.get(flag) for flag in PATH_FLAGS
            if flag not in written and (flag in given or flag in ("model_dir", "backbone"))}
    return written, read


def check_run_paths():
    """The run's outputs apart from its inputs and state (outputs.check_run_paths): before any work, and
    again after a record supplied flags."""
    given = {name for name in PATH_FLAGS if FLAGS[name].present} | set(ADOPTED)
    written, read = run_paths(FLAGS.mode, {name: FLAGS[name].value for name in PATH_FLAGS}, given)
    outputs.check_run_paths(written, read)


def run_train():
    adopt_model_dir_record("pfe")
    if FLAGS.calibration_pairs and not FLAGS.lfw_dir:
        raise FlagError("--calibration_pairs needs --lfw_dir (the aligned TFRecords or feature cache of its images)")
    template = training_data_template()
    train(make_estimator(), train_input_fn(), FLAGS.max_steps, current_record("pfe", template))
    if FLAGS.calibration_pairs and chief():
        calibrate_model()


def calibrate_model():
    """Fits P(same | MLS) and the MLS thresholds at CALIBRATION_FARS and --far on --calibration_pairs with
    the trained model, and keeps them in model_dir/calibration.json."""
    pairs = protocols.read_lfw_pairs(FLAGS.calibration_pairs)
    names, mu, sigma_sq, _ = lfw_features(pairs)
    first, second = protocols.pair_indices(names, pairs)
    scores = metrics.mls_pair_scores(mu[first], sigma_sq[first], mu[second], sigma_sq[second])
    fitted = calibration.fit_verification_calibration(scores, pairs.same,
                                                          sorted(set(CALIBRATION_FARS + (FLAGS.far,))))
    fitted["source"] = os.path.abspath(FLAGS.calibration_pairs)
    atomic_files.write_json(os.path.join(FLAGS.model_dir, CALIBRATION_NAME), fitted)
    print("calibration: P(same | MLS) from %d pairs -> %s" % (len(scores), os.path.join(FLAGS.model_dir,
                                                                                          CALIBRATION_NAME)))


def run_verify():
    """Prints, for --image_a and --image_b: MLS, P(same), each face's mean sigma^2, the decision at --far."""
    if not (FLAGS.image_a and FLAGS.image_b):
        raise FlagError("--mode=verify needs --image_a and --image_b")
    adopt_model_dir_record("pfe")
    path = os.path.join(FLAGS.model_dir, CALIBRATION_NAME)
    fitted = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            fitted = json.load(f)
    load_face = face_loader()
    mu, sigma_sq = feature_extractor().images(load_face(image) for image in (FLAGS.image_a, FLAGS.image_b))
    score = float(metrics.mls_pair_scores(mu[:1], sigma_sq[:1], mu[1:], sigma_sq[1:])[0])
    print("MLS %.4f" % score)
    for name, sigma in zip((FLAGS.image_a, FLAGS.image_b), sigma_sq):
        print("mean sigma^2 %.4e  %s" % (sigma.mean(), name))
    if fitted is None:
        print("P(same) and decision: no calibration in %s (train with --calibration_pairs)" % FLAGS.model_dir)
        return
    probability = float(calibration.logistic_probability(fitted["model"], [[score]])[0])
    print("P(same) %.4f (%s, %d pairs)" % (probability, fitted["method"], fitted["pairs"]))
    threshold = fitted["mls_threshold_at_far"].get(str(FLAGS.far))
    if threshold is None:
        raise FlagError("--far=%s: the calibration has thresholds at FAR %s only" % (
            FLAGS.far, ", ".join(sorted(fitted["mls_threshold_at_far"]))))
    print("decision at FAR %s: %s (MLS threshold %.4f)" % (FLAGS.far, "same person" if score >= threshold
                                                           else "different people", threshold))


def run_pretrain():
    if not FLAGS.data_dir or feature_cache.is_cache(FLAGS.data_dir):
        raise FlagError("--mode=pretrain needs --data_dir with image TFRecords")
    adopt_model_dir_record("pretrain")
    manifest = pk_sampling.read_manifest(FLAGS.data_dir)
    _, _, max_steps = pretrain_schedule()
    train(make_estimator(pretrain_model_fn(manifest["num_identities"])), train_input_fn(), max_steps,
          current_record("pretrain", manifest.get("template")))


def run_export():
    adopt_model_dir_record("pfe")
    lock_dir = FLAGS.model_dir if os.path.isdir(FLAGS.model_dir) else os.path.dirname(FLAGS.model_dir)
    with model_dir_lock.locked(lock_dir, "export"):
        checkpoint = export.export_pfe(FLAGS.model_dir, FLAGS.export_dir, backbone(), image_size(),
                                       overwrite=FLAGS.overwrite, pretrained_checkpoint=FLAGS.pretrained_ckpt)
    print("exported %s -> %s (SavedModel, %s)" % (checkpoint, FLAGS.export_dir, export.FROZEN_GRAPH_NAME))


def face_loader():
    """callable(path) -> float32 [H, W, 3]: an image file as the network's input, --align and --resize applied."""
    from pfe_estimator.faces import image_io  # pylint: disable=import-outside-toplevel
    align = None
    if FLAGS.align == "detect":
        if not (FLAGS.detector_model and os.path.isfile(FLAGS.detector_model)):
            raise FlagError("--align=detect needs --detector_model=PATH of a YuNet .onnx file (data_prep/README: "
                            "scripts/fetch_models.py brings one)")
        template = MODEL_RECORD.get("template") or alignment.template_for_size(image_size())

        def align(image, path):
            landmarks = alignment.detect_landmarks(image, FLAGS.detector_model)
            if landmarks is None:
                raise image_io.ImageError("%s: no face detected" % path, "no_face_detected")
            return alignment.align_face(image, landmarks, template, FLAGS.alignment)[0]
    from pfe_estimator.faces import network_input  # pylint: disable=import-outside-toplevel  # OpenCV
    return lambda path: network_input.load_network_input(path, image_size(), FLAGS.resize, align)


def check_model_fits():
    """One line, before any image is read, when --model_dir's checkpoint does not fit the flags' network."""
    export.check_checkpoint_fits(checkpoints.intact_checkpoint(FLAGS.model_dir), backbone(), image_size(),
                                 FLAGS.pretrained_ckpt)


def check_features_output(path, flag):
    """Refuses, before any work, a features target without the .npz suffix numpy would add, or one that exists
    and is not a features file (unless --overwrite)."""
    if not path.endswith(".npz"):
        raise FlagError("--%s=%s: a features file is an .npz (numpy adds the suffix); give %s.npz" % (flag, path, path))
    outputs.check_replaceable_file(path, flag, embedding_files.is_embedding_file, FLAGS.overwrite)


def run_predict():
    from pfe_estimator.faces import image_io  # pylint: disable=import-outside-toplevel
    from pfe_estimator.inference import predict  # pylint: disable=import-outside-toplevel
    if not FLAGS.predict_dir:
        raise FlagError("--mode=predict needs --predict_dir")
    adopt_model_dir_record("pfe")
    check_features_output(FLAGS.predict_output, "predict_output")
    names = image_io.list_images(FLAGS.predict_dir)
    if not names:
        raise FlagError("--predict_dir=%s: no image files (%s)" % (FLAGS.predict_dir,
                                                                   ", ".join(image_io.IMAGE_EXTENSIONS)))
    paths = [os.path.join(FLAGS.predict_dir, name) for name in names]
    check_model_fits()
    if FLAGS.align == "none" and not FLAGS.resize:
        warn_about_raw_photos(paths)
    kept, mu, sigma_sq, skipped = predict.predict_image_files(make_estimator(), paths, image_size(), FLAGS.batch_size,
                                                              load_face=face_loader())
    if not kept:
        raise FlagError("--predict_dir=%s: none of its %d images could be used (first: %s: %s)"
                        % (FLAGS.predict_dir, len(skipped), skipped[0][0], skipped[0][1]))
    kept_names = [os.path.relpath(path, FLAGS.predict_dir) for path in kept]
    embedding_files.save(FLAGS.predict_output, kept_names, mu, sigma_sq)
    print("predict: %d images -> %s, %d skipped" % (len(kept_names), FLAGS.predict_output, len(skipped)))


def warn_about_raw_photos(paths):
    """Says so when images are much larger (over twice each side) than the model's input without --align:
    centre-cropping a raw photo to the model's size keeps a patch of it, not the face."""
    from pfe_estimator.faces import image_io  # pylint: disable=import-outside-toplevel
    height, width = image_size()
    sizes = [(path, image_io.file_declared_size(path)) for path in paths]
    large = [(path, size) for path, size in sizes if size and size[0] > 2 * height and size[1] > 2 * width]
    if large:
        tf.logging.warning("%d of %d images are over twice the model's %dx%d input (e.g. %s, %dx%d): centre-cropping "
                           "a raw photo keeps no face; use --align=detect for raw photos, or --resize for larger "
                           "aligned crops", len(large), len(paths), height, width, large[0][0], large[0][1][0],
                           large[0][1][1])


def feature_extractor():
    """Images -> (mu, sigma^2) with --saved_model, or the Estimator on --model_dir (checked against the flags)."""
    from pfe_estimator.inference import embedding_sources  # pylint: disable=import-outside-toplevel
    return embedding_sources.FeatureExtractor(image_size(), FLAGS.batch_size, make_estimator, check_model_fits,
                                     FLAGS.saved_model)


def lfw_features(pairs):
    """(names, mu, sigma_sq, load_face) for the images LFW's pairs name (see embedding_sources.pair_features)."""
    from pfe_estimator.inference import embedding_sources  # pylint: disable=import-outside-toplevel
    if not (FLAGS.lfw_dir or FLAGS.features):
        raise FlagError("--mode=eval needs --features or --lfw_dir")
    if FLAGS.lfw_dir and not FLAGS.features and feature_cache.is_cache(FLAGS.lfw_dir):
        if FLAGS.saved_model:
            raise FlagError("--lfw_dir=%s is a feature cache: its cached backbone outputs need the head's checkpoint "
                            "(--model_dir), not --saved_model (which takes images)" % FLAGS.lfw_dir)
        check_cache_fits_model(FLAGS.lfw_dir, "lfw_dir")
    return embedding_sources.pair_features(set(pairs.first) | set(pairs.second), feature_extractor(), FLAGS.lfw_dir,
                                  FLAGS.features, FLAGS.features_output)


def template_features():
    from pfe_estimator.inference import embedding_sources  # pylint: disable=import-outside-toplevel
    if FLAGS.features:
        return embedding_files.load(FLAGS.features)
    if not FLAGS.template_image_root:
        raise FlagError("template evaluation needs --features or --template_image_root")
    paths = [os.path.join(FLAGS.template_image_root, path)
             for _, path in protocols.read_csv_rows(FLAGS.templates_csv, 2)]
    return embedding_sources.image_file_features(paths, face_loader(), feature_extractor())


def run_eval():
    from pfe_estimator.evaluation import report  # pylint: disable=import-outside-toplevel
    if not (FLAGS.lfw_pairs or FLAGS.templates_csv):
        raise FlagError("--mode=eval needs --lfw_pairs and/or --templates_csv with --template_pairs_csv")
    if FLAGS.templates_csv and not FLAGS.template_pairs_csv:
        raise FlagError("--templates_csv needs --template_pairs_csv")
    if not (FLAGS.features or FLAGS.saved_model):
        adopt_model_dir_record("pfe")
    if FLAGS.features_output:
        check_features_output(FLAGS.features_output, "features_output")
    with outputs.replacing_directory(FLAGS.report_dir, report.OUTPUT_KIND, "report_dir",
                                     overwrite=FLAGS.overwrite) as staging:
        os.makedirs(staging)
        result = {}
        if FLAGS.lfw_pairs:
            pairs = protocols.read_lfw_pairs(FLAGS.lfw_pairs)
            names, mu, sigma_sq, face_loader = lfw_features(pairs)
            result["lfw"] = report.lfw_report(names, mu, sigma_sq, pairs, staging, face_loader)
        if FLAGS.templates_csv:
            names, mu, sigma_sq = template_features()
            result["templates"] = report.template_section(names, mu, sigma_sq, FLAGS.templates_csv,
                                                          FLAGS.template_pairs_csv, FLAGS.fusion, staging)
        atomic_files.write_json(os.path.join(staging, "report.json"), result)
    print(report.summary(result))
    print("report: %s" % os.path.join(FLAGS.report_dir, "report.json"))


def run_cache_features():
    if not (FLAGS.data_dir and FLAGS.cache_dir):
        raise FlagError("--mode=cache_features needs --data_dir (image TFRecords) and --cache_dir")
    if FLAGS["model_dir"].present:
        adopt_model_dir_record("pfe")
    backbones.check_backbone_name(FLAGS.backbone)
    degrade = random_degradation(FLAGS.data_dir) if FLAGS.cache_degraded_copies else None
    from pfe_estimator.inference import cache_builder  # pylint: disable=import-outside-toplevel  # OpenCV
    manifest = cache_builder.build_cache(FLAGS.data_dir, FLAGS.cache_dir, backbone(), FLAGS.pretrained_ckpt,
                                         batch_size=FLAGS.batch_size,
                                         features_dtype=FLAGS.cache_dtype, overwrite=FLAGS.overwrite,
                                         degraded_copies=FLAGS.cache_degraded_copies, degrade=degrade)
    cache = manifest["cache"]
    print("cache_features: %d images of %d identities -> %s (features %d-d %s, mu %d-d, with mirrored copies)"
          % (manifest["num_images"], manifest["num_identities"], FLAGS.cache_dir, cache["feature_size"],
             cache["features_dtype"], cache["embedding_size"]))


def one_line(error):
    """The message of a user-caused error as one line, naming the file where the error carries one."""
    if isinstance(error, OSError) and error.filename:
        return "%s: %s" % (error.filename, error.strerror or error)
    message = error.message if isinstance(error, tf.errors.OpError) else str(error)
    return errors.first_line(message) or type(error).__name__


def is_user_error(error):
    """Errors a user's input causes: the project's UserError, a file the system refuses (missing, a folder,
    no permission, a full disk: OSError naming it) and TensorFlow's file errors. Anything else is a bug."""
    if isinstance(error, errors.UserError):
        return True
    if isinstance(error, OSError):
        return bool(error.filename) or error.errno in atomic_files.FULL_DISK_ERRNOS + (errno.EROFS,)
    return isinstance(error, (tf.errors.NotFoundError, tf.errors.PermissionDeniedError))


class ProjectLinesOnly(logging.Filter):
    """Passes this project's log lines (steps, throughput, where files went) and every error; drops
    TensorFlow's own INFO and deprecation warnings."""

    def filter(self, record):
        ours = record.pathname.startswith(PROJECT_DIR) and "site-packages" not in record.pathname
        return ours or record.levelno >= logging.ERROR


class PlainLines(logging.Formatter):
    """An INFO line as its message alone; warnings and errors keep their level in front."""

    def format(self, record):
        message = record.getMessage()
        return message if record.levelno <= logging.INFO else "%s: %s" % (record.levelname.lower(), message)


PROJECT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def main(argv):
    del argv
    tf.logging.set_verbosity(tf.logging.INFO)
    logger = tf.get_logger()
    logger.propagate = False  # TF has its own handler; absl's would print every line twice
    if not FLAGS.verbose:
        for handler in logger.handlers:
            handler.addFilter(ProjectLinesOnly())
            handler.setFormatter(PlainLines())
    try:
        check_run_paths()
        {"train": run_train, "eval": run_eval, "export": run_export, "predict": run_predict,
         "cache_features": run_cache_features, "pretrain": run_pretrain, "verify": run_verify}[FLAGS.mode]()
    except KeyboardInterrupt:
        sys.exit("interrupted: %s" % what_was_kept())
    except tf.train.NanLossDuringTrainingError:
        sys.exit("error: the training loss became NaN; lower --lr_values (the checkpoints written so far are kept)")
    except Exception as error:  # pylint: disable=broad-except  # user errors become one line, bugs re-raise
        if not is_user_error(error):
            raise
        sys.exit("error: %s" % one_line(error))


def what_was_kept():
    """One line for Ctrl-C: what the interrupted mode leaves (outputs are written whole or not at all)."""
    if MODE_OUTPUTS[FLAGS.mode] == ("model_dir",):
        return kept_checkpoint()
    if FLAGS.mode == "cache_features":
        return "--cache_dir=%s keeps the shards it finished; rerun the same command to resume" % FLAGS.cache_dir
    written = ", ".join("--%s=%s" % (flag, FLAGS[flag].value) for flag in MODE_OUTPUTS[FLAGS.mode]
                        if FLAGS[flag].value)
    return "nothing was replaced (%s as before); rerun the same command" % (written or "no output")

if __name__ == "__main__":
    app.run(main)
