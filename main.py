"""pfe-estimator entry point: pretrain, train, evaluate, predict and export Probabilistic Face Embeddings.

  python main.py --mode=train --data=synthetic --backbone=sphere20 --max_steps=20
  python main.py --mode=pretrain --data_dir=tfrecords/casia --backbone=sphere64 --model_dir=pretrained/sphere64_am
  python main.py --mode=train --device=npu --data_dir=tfrecords/casia --pretrained_ckpt=pretrained/sphere64_casia_am
  python main.py --mode=eval --model_dir=ckpt/pfe --lfw_dir=tfrecords/lfw --lfw_pairs=pairs.txt --report_dir=report
  python main.py --mode=export --model_dir=ckpt/pfe --export_dir=export/pfe
  python main.py --mode=predict --model_dir=ckpt/pfe --predict_dir=aligned_faces --predict_output=features.npz
  python main.py --mode=cache_features --backbone=onnx:sface.onnx --image_size=112,112 --data_dir=... --cache_dir=...

This is the only module that reads flags.
"""
import json
import os
import sys
import time

from absl import app
from absl import flags
import tensorflow.compat.v1 as tf

from pfe_estimator import atomic_files
from pfe_estimator import backbones
from pfe_estimator import evaluation
from pfe_estimator import export
from pfe_estimator import feature_cache
from pfe_estimator import image_io
from pfe_estimator import input_fn as input_fns
from pfe_estimator import model_fn as pfe_model
from pfe_estimator import predict
from pfe_estimator import pretrain
from pfe_estimator import report
from pfe_estimator import runtime
from pfe_estimator import sphere_net

FLAGS = flags.FLAGS

flags.DEFINE_enum("mode", "train", ["train", "eval", "predict", "export", "cache_features", "pretrain"],
                  "What to do. pretrain: train the SphereNet backbone with AM-softmax (its checkpoint is what "
                  "--pretrained_ckpt takes).")
flags.DEFINE_enum("device", "cpu", list(runtime.DEVICES), "npu: NPUEstimator (Ascend); gpu/cpu: tf.estimator.")
flags.DEFINE_enum("precision", "fp32", ["fp32", "mixed"], "GPU precision: 'mixed' = graph rewrite + loss scaling.")
flags.DEFINE_enum("precision_mode", "allow_mix_precision", list(runtime.NPU_PRECISION_MODES),
                  "NPU precision mode (NPURunConfig).")
flags.DEFINE_string("loss_scale", "dynamic", "'dynamic' or a fixed loss scale, for npu and gpu mixed precision.")
flags.DEFINE_integer("iterations_per_loop", 1, "NPU steps per session run; divides max_steps and "
                     "save_checkpoints_steps.")

flags.DEFINE_enum("data", "tfrecord", ["tfrecord", "synthetic"], "Training data: --data_dir TFRecords, or "
                  "random P x K batches for smoke and throughput runs.")
flags.DEFINE_string("data_dir", None, "Folder of class-balanced TFRecords from data_prep/make_tfrecords.py, or a "
                    "feature cache from --mode=cache_features (then the head trains without the backbone).")
flags.DEFINE_string("cache_dir", None, "cache_features: output folder of the frozen backbone's cached outputs.")
flags.DEFINE_enum("cache_dtype", "float16", ["float16", "float32"], "cache_features: storage of the head's input "
                  "features (float32 reproduces the image path exactly, at twice the disk).")
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
flags.DEFINE_integer("embedding_size", 512, "Embedding dimension D.")
flags.DEFINE_integer("batch_size", 256, "Images per step = num_classes_per_batch x images per class.")
flags.DEFINE_integer("num_classes_per_batch", 64, "Identities per batch (P).")
flags.DEFINE_integer("max_steps", 3000, "Total training steps (global step to stop at).")
flags.DEFINE_list("lr_values", ["1e-3", "1e-4"], "Piecewise-constant learning rates.")
flags.DEFINE_list("lr_boundaries", ["2000"], "Global steps at which the learning rate changes.")
flags.DEFINE_float("momentum", 0.9, "Momentum.")
flags.DEFINE_float("am_scale", 30.0, "pretrain: AM-softmax scale s.")
flags.DEFINE_float("am_margin", 0.35, "pretrain: AM-softmax additive margin m.")
flags.DEFINE_float("weight_decay", 5e-4, "L2 weight decay on the uncertainty head (pretrain: on every weight).")
flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint interval in steps.")
flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept.")
flags.DEFINE_integer("log_every_n_steps", 100, "Interval of the loss, steps/s and images/s log.")
flags.DEFINE_integer("random_seed", None, "Graph-level random seed.")
flags.DEFINE_integer("num_devices", 1, "gpu/cpu: data-parallel replicas (MirroredStrategy), each taking a whole "
                     "P x K batch: the global batch is num_devices x batch_size. Multi-worker training is "
                     "switched on by a TF_CONFIG naming more than one worker.")

flags.DEFINE_string("export_dir", "export/pfe", "export: output folder (SavedModel + pfe_frozen.pb).")
flags.DEFINE_string("predict_dir", None, "predict: folder of aligned face images (searched recursively).")
flags.DEFINE_string("predict_output", "features.npz", "predict: .npz of names, mu [N,D], sigma_sq [N,D].")

flags.DEFINE_string("lfw_dir", None, "eval: aligned LFW TFRecords (data_prep/make_tfrecords.py --min_images_per_identity=1).")
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


def image_size():
    height, width = [int(v) for v in FLAGS.image_size]
    return height, width


def images_per_class():
    if FLAGS.batch_size % FLAGS.num_classes_per_batch:
        raise app.UsageError("--batch_size=%d is not a multiple of --num_classes_per_batch=%d"
                             % (FLAGS.batch_size, FLAGS.num_classes_per_batch))
    return FLAGS.batch_size // FLAGS.num_classes_per_batch


def rank():
    """(rank_size, rank_id) of an Ascend multi-device run (RANK_SIZE/RANK_ID), or of a TF_CONFIG cluster."""
    if "RANK_SIZE" in os.environ:
        return int(os.environ["RANK_SIZE"]), int(os.environ.get("RANK_ID", "0"))
    cluster = json.loads(os.environ.get("TF_CONFIG", "{}"))
    workers = len(cluster.get("cluster", {}).get("worker", [])) + len(cluster.get("cluster", {}).get("chief", []))
    if workers > 1:
        task = cluster.get("task", {})
        return workers, int(task.get("index", 0)) + (1 if task.get("type") == "worker" and "chief" in cluster["cluster"] else 0)
    return 1, 0


def backbone_options():
    """ONNX import options from the flags (None for a SphereNet)."""
    if not backbones.is_onnx(FLAGS.backbone):
        return None
    return dict(embedding_node=FLAGS.embedding_node, feature_node=FLAGS.feature_node,
                input_scale=FLAGS.onnx_input_scale, input_offset=FLAGS.onnx_input_offset,
                input_channels=FLAGS.onnx_input_channels)


def optimizer_wrapper():
    return runtime.optimizer_wrapper(FLAGS.device, FLAGS.precision, FLAGS.loss_scale, rank()[0])


def pfe_model_fn():
    backbones.check_backbone_name(FLAGS.backbone)
    if FLAGS.pretrained_ckpt and backbones.is_onnx(FLAGS.backbone):
        raise app.UsageError("--pretrained_ckpt does not apply to --backbone=onnx:... (its weights are in the model)")
    return pfe_model.pfe_model_fn_builder(
        backbone=FLAGS.backbone, embedding_size=FLAGS.embedding_size,
        num_classes_per_batch=FLAGS.num_classes_per_batch, images_per_class=images_per_class(),
        learning_rate_values=[float(v) for v in FLAGS.lr_values],
        learning_rate_boundaries=[int(v) for v in FLAGS.lr_boundaries], momentum=FLAGS.momentum,
        weight_decay=FLAGS.weight_decay, pretrained_checkpoint=FLAGS.pretrained_ckpt, wrap_optimizer=optimizer_wrapper(),
        log_every_n_steps=FLAGS.log_every_n_steps, num_replicas=FLAGS.num_devices * rank()[0],
        backbone_options=backbone_options())


def pretrain_schedule():
    """(learning rates, boundaries, max steps): the flags when given, else pretraining's own defaults."""
    values = FLAGS.lr_values if FLAGS["lr_values"].present else pretrain.DEFAULT_LEARNING_RATES
    boundaries = FLAGS.lr_boundaries if FLAGS["lr_boundaries"].present else pretrain.DEFAULT_BOUNDARIES
    max_steps = FLAGS.max_steps if FLAGS["max_steps"].present else pretrain.DEFAULT_MAX_STEPS
    return [float(v) for v in values], [int(v) for v in boundaries], max_steps


def pretrain_model_fn(num_classes):
    if backbones.is_onnx(FLAGS.backbone):
        raise app.UsageError("--mode=pretrain trains a SphereNet, not an ONNX model")
    backbones.check_backbone_name(FLAGS.backbone)
    values, boundaries, _ = pretrain_schedule()
    return pretrain.pretrain_model_fn_builder(
        FLAGS.backbone, FLAGS.embedding_size, num_classes, values, boundaries, FLAGS.momentum, FLAGS.weight_decay,
        FLAGS.am_scale, FLAGS.am_margin, optimizer_wrapper(), FLAGS.batch_size * FLAGS.num_devices * rank()[0],
        FLAGS.log_every_n_steps)


def make_estimator(model_fn=None):
    """The device's Estimator around `model_fn` (default: the PFE model_fn)."""
    runtime.check_device_options(FLAGS.device, FLAGS.precision, FLAGS.precision_mode)
    return runtime.build_estimator(
        model_fn or pfe_model_fn(), FLAGS.device, FLAGS.model_dir, save_checkpoints_steps=FLAGS.save_checkpoints_steps,
        keep_checkpoint_max=FLAGS.keep_checkpoint_max, log_step_count_steps=FLAGS.log_every_n_steps,
        save_summary_steps=FLAGS.log_every_n_steps, iterations_per_loop=FLAGS.iterations_per_loop,
        precision_mode=FLAGS.precision_mode, random_seed=FLAGS.random_seed, num_devices=FLAGS.num_devices,
        multi_worker=FLAGS.device != "npu" and rank()[0] > 1)


def train_input_fn():
    """The training input_fn; each rank of a multi-device run draws its own P x K batches (seed + rank)."""
    seed = (FLAGS.random_seed or 0) + rank()[1]
    if FLAGS.data == "synthetic":
        return input_fns.synthetic_input_fn_builder(FLAGS.num_classes_per_batch, images_per_class(), image_size(),
                                                    seed=seed)
    if FLAGS.data_dir and feature_cache.is_cache(FLAGS.data_dir):
        return feature_cache.cache_input_fn_builder(FLAGS.data_dir, FLAGS.num_classes_per_batch, images_per_class(),
                                                    seed=seed)
    if FLAGS.data_dir:
        return input_fns.tfrecord_input_fn_builder(FLAGS.data_dir, FLAGS.num_classes_per_batch, images_per_class(),
                                                   image_size(), seed=seed)
    raise app.UsageError("--data=tfrecord needs --data_dir (TFRecords from data_prep/make_tfrecords.py); "
                         "use --data=synthetic for a smoke run")


def train(estimator, input_fn, max_steps):
    """Estimator training to max_steps; multi-worker runs go through train_and_evaluate."""
    if FLAGS.device == "npu" and (max_steps % FLAGS.iterations_per_loop or
                                  FLAGS.save_checkpoints_steps % FLAGS.iterations_per_loop):
        raise app.UsageError("--max_steps and --save_checkpoints_steps must be multiples of --iterations_per_loop")
    start = time.time()
    if FLAGS.device != "npu" and rank()[0] > 1:
        # Multi-worker Estimator training runs through train_and_evaluate (the distribute coordinator);
        # evaluation happens only if TF_CONFIG names an evaluator task.
        tf.estimator.train_and_evaluate(estimator, tf.estimator.TrainSpec(input_fn, max_steps=max_steps),
                                        tf.estimator.EvalSpec(input_fn, steps=1, throttle_secs=10 ** 6))
    else:
        estimator.train(input_fn, max_steps=max_steps)
    tf.logging.info("training finished in %.1f s; latest checkpoint %s", time.time() - start,
                    tf.train.latest_checkpoint(FLAGS.model_dir))


def run_train():
    train(make_estimator(), train_input_fn(), FLAGS.max_steps)


def run_pretrain():
    if not FLAGS.data_dir or feature_cache.is_cache(FLAGS.data_dir):
        raise app.UsageError("--mode=pretrain needs --data_dir with image TFRecords")
    num_classes = input_fns.read_manifest(FLAGS.data_dir)["num_identities"]
    _, _, max_steps = pretrain_schedule()
    train(make_estimator(pretrain_model_fn(num_classes)), train_input_fn(), max_steps)


def run_export():
    checkpoint = export.export_pfe(FLAGS.model_dir, FLAGS.export_dir, FLAGS.backbone, FLAGS.embedding_size,
                                   image_size(), backbone_options())
    print("exported %s -> %s (SavedModel, %s)" % (checkpoint, FLAGS.export_dir, export.FROZEN_GRAPH_NAME))


def run_predict():
    if not FLAGS.predict_dir:
        raise app.UsageError("--mode=predict needs --predict_dir")
    names = image_io.list_images(FLAGS.predict_dir)
    if not names:
        raise app.UsageError("%s: no image files" % FLAGS.predict_dir)
    paths = [os.path.join(FLAGS.predict_dir, name) for name in names]
    kept, mu, sigma_sq, skipped = predict.predict_image_files(make_estimator(), paths, image_size(), FLAGS.batch_size)
    kept_names = [os.path.relpath(path, FLAGS.predict_dir) for path in kept]
    predict.save_features(FLAGS.predict_output, kept_names, mu, sigma_sq)
    print("predict: %d images -> %s, %d skipped" % (len(kept_names), FLAGS.predict_output, len(skipped)))


def extract_features(images):
    """mu, sigma^2 of standardised images with --saved_model, or the Estimator on --model_dir."""
    if FLAGS.saved_model:
        return predict.saved_model_features(FLAGS.saved_model, images, FLAGS.batch_size)
    return predict.estimator_features(make_estimator(), images, image_size(), FLAGS.batch_size)


def lfw_features(pairs):
    """(names, mu, sigma_sq, face_loader) for the images LFW's pairs name."""
    face_loader = None
    wanted = set(pairs.first) | set(pairs.second)
    if FLAGS.lfw_dir and not FLAGS.features and feature_cache.is_cache(FLAGS.lfw_dir):
        names, cached, cached_mu = feature_cache.read_cache_arrays(FLAGS.lfw_dir, wanted)
        mu, sigma_sq = predict.cached_features(make_estimator(), cached, cached_mu, FLAGS.batch_size)
        if FLAGS.features_output:
            predict.save_features(FLAGS.features_output, names, mu, sigma_sq)
        return names, mu, sigma_sq, None
    if FLAGS.lfw_dir:
        names, jpegs = predict.read_tfrecord_faces(FLAGS.lfw_dir, wanted)
        by_name = dict(zip(names, jpegs))
        face_loader = lambda name: predict.decode_rgb(by_name[name])  # noqa: E731
    if FLAGS.features:
        names, mu, sigma_sq = predict.load_features(FLAGS.features)
        return names, mu, sigma_sq, face_loader
    if not FLAGS.lfw_dir:
        raise app.UsageError("--mode=eval needs --features or --lfw_dir")
    mu, sigma_sq = extract_features(predict.decode_network_input(j, image_size()) for j in jpegs)
    if FLAGS.features_output:
        predict.save_features(FLAGS.features_output, names, mu, sigma_sq)
    return names, mu, sigma_sq, face_loader


def template_features():
    if FLAGS.features:
        return predict.load_features(FLAGS.features)
    if not FLAGS.template_image_root:
        raise app.UsageError("template evaluation needs --features or --template_image_root")
    paths = sorted({os.path.join(FLAGS.template_image_root, path)
                    for _, path in evaluation.read_csv_rows(FLAGS.templates_csv, 2)})
    kept = []
    mu, sigma_sq = extract_features(predict.readable_images(paths, image_size(), kept, []))
    return [evaluation.image_name(path) for path in kept], mu, sigma_sq


def run_eval():
    if not (FLAGS.lfw_pairs or FLAGS.templates_csv):
        raise app.UsageError("--mode=eval needs --lfw_pairs and/or --templates_csv with --template_pairs_csv")
    if not os.path.isdir(FLAGS.report_dir):
        os.makedirs(FLAGS.report_dir)
    result = {}
    if FLAGS.lfw_pairs:
        pairs = evaluation.read_lfw_pairs(FLAGS.lfw_pairs)
        names, mu, sigma_sq, face_loader = lfw_features(pairs)
        result["lfw"] = report.lfw_report(names, mu, sigma_sq, pairs, FLAGS.report_dir, face_loader)
    if FLAGS.templates_csv:
        if not FLAGS.template_pairs_csv:
            raise app.UsageError("--templates_csv needs --template_pairs_csv")
        names, mu, sigma_sq = template_features()
        result["templates"] = report.template_section(names, mu, sigma_sq, FLAGS.templates_csv,
                                                      FLAGS.template_pairs_csv, FLAGS.fusion, FLAGS.report_dir)
    atomic_files.write_json(os.path.join(FLAGS.report_dir, "report.json"), result)
    print(report.summary(result))
    print("report: %s" % os.path.join(FLAGS.report_dir, "report.json"))


def run_cache_features():
    if not (FLAGS.data_dir and FLAGS.cache_dir):
        raise app.UsageError("--mode=cache_features needs --data_dir (image TFRecords) and --cache_dir")
    backbones.check_backbone_name(FLAGS.backbone)
    manifest = feature_cache.build_cache(FLAGS.data_dir, FLAGS.cache_dir, FLAGS.backbone, FLAGS.embedding_size,
                                         backbone_options(), FLAGS.pretrained_ckpt, batch_size=FLAGS.batch_size,
                                         features_dtype=FLAGS.cache_dtype)
    cache = manifest["cache"]
    print("cache_features: %d images of %d identities -> %s (features %d-d %s, mu %d-d, with mirrored copies)"
          % (manifest["num_images"], manifest["num_identities"], FLAGS.cache_dir, cache["feature_size"],
             cache["features_dtype"], cache["embedding_size"]))


def main(argv):
    del argv
    tf.logging.set_verbosity(tf.logging.INFO)
    tf.get_logger().propagate = False  # TF has its own handler; absl's would print every line twice
    try:
        {"train": run_train, "eval": run_eval, "export": run_export, "predict": run_predict,
         "cache_features": run_cache_features, "pretrain": run_pretrain}[FLAGS.mode]()
    except (ValueError, ImportError) as error:
        sys.exit("error: %s" % error)


if __name__ == "__main__":
    app.run(main)
