"""main.py's flags, defined by concern (one `define_*` per concern, as tensorflow/models' flags_core).

The training flags' defaults are training.recipe's (the released sphere64_casia configuration). Nothing
outside main.py reads these flags: modes/run_config.py turns them into one frozen RunConfig.
`python main.py --helpfull` lists them by concern; docs/flags.md is generated from these definitions
(`python -m scripts.flag_reference`).
"""
import math

from absl import flags

from pfe_estimator.faces import alignment
from pfe_estimator.model import backbones
from pfe_estimator.model import compute_precision
from pfe_estimator.model import sphere_net
from pfe_estimator.model import calibration
from pfe_estimator.modes import registry
from pfe_estimator.training import devices
from pfe_estimator.training import recipe as recipes

RECIPE = recipes.Recipe()
# flags renamed to the recipe's field names (as experiment configs say them): the earlier name -> today's
RENAMED = {"lr_values": "learning_rates", "lr_boundaries": "learning_rate_boundaries"}


def define_run_flags():
    flags.DEFINE_enum("mode", "train", list(registry.MODES), "What to do. pretrain: train the SphereNet backbone with "
                      "AM-softmax (its checkpoint is what --pretrained_ckpt takes); verify: are --image_a and "
                      "--image_b the same person?")
    flags.DEFINE_bool("verbose", False, "Also print TensorFlow's own log lines (configs, deprecations, C++ "
                      "start-up).")
    flags.DEFINE_bool("overwrite", False, "Replace an output (--export_dir, --cache_dir, --report_dir, "
                      "--predict_output, --embeddings_output) that exists and is not this pipeline's output of "
                      "the same kind, or a cache made from other inputs; without it such a target is refused.")


def define_device_flags():
    flags.DEFINE_enum("device", "cpu", list(devices.DEVICES), "npu: NPUEstimator (Ascend); gpu/cpu: tf.estimator.")
    flags.DEFINE_enum("precision", "fp32", ["fp32", "mixed"], "GPU precision: 'mixed' = graph rewrite + loss "
                      "scaling.")
    flags.DEFINE_bool("xla", False, "XLA jit compilation (auto-clustering) of the training graph, on --device=gpu "
                      "or cpu. Predict, eval, verify and calibrate compile an ONNX backbone in bf16 with XLA anyway "
                      "(as cache_features does).")
    flags.DEFINE_enum("precision_mode", "allow_mix_precision", list(devices.NPU_PRECISION_MODES),
                      "NPU precision mode (NPURunConfig).")
    flags.DEFINE_string("loss_scale", "dynamic", "'dynamic' or a fixed loss scale, for npu and gpu mixed "
                        "precision.")
    flags.DEFINE_integer("iterations_per_loop", 1, "NPU steps per session run; divides max_steps and "
                         "save_checkpoints_steps.", lower_bound=1)
    flags.DEFINE_integer("num_devices", 1, "gpu/cpu: data-parallel replicas (MirroredStrategy), each taking a "
                         "whole P x K batch: the global batch is num_devices x batch_size. Multi-worker training "
                         "is switched on by a TF_CONFIG naming more than one worker.", lower_bound=1)
    flags.DEFINE_integer("random_seed", 0, "The run's seed: the graph's (the head's initialisation) and the "
                         "batches' draws (each rank adds its rank); calibrate: which images and copies are drawn.",
                         lower_bound=0)
    flags.DEFINE_bool("over_dump", False, "npu: overflow detection (the adapter's dump debug mode) into "
                      "--over_dump_path.")
    flags.DEFINE_string("over_dump_path", "output/overflow_dump", "npu: where --over_dump writes.")
    flags.DEFINE_bool("data_dump_flag", False, "npu: dump every op's inputs and outputs at --data_dump_step into "
                      "--data_dump_path.")
    flags.DEFINE_string("data_dump_step", "10", "npu: the steps to dump, e.g. 10 or 0|5|10.")
    flags.DEFINE_string("data_dump_path", "output/data_dump", "npu: where --data_dump_flag writes.")
    flags.DEFINE_bool("profiling", False, "npu: training and task traces into --profiling_dump_path.")
    flags.DEFINE_string("profiling_dump_path", "output/profiling", "npu: where --profiling writes.")
    flags.register_validator("loss_scale", lambda value: value == "dynamic" or _numbers(float)([value]) and
                             float(value) >= 1, "must be 'dynamic' or a number >= 1 (the adapter rejects a smaller "
                             "scale)")


def define_model_flags():
    flags.DEFINE_string("model_dir", "ckpt/pfe", "Checkpoints and summaries; training resumes from here.")
    flags.DEFINE_string("backbone", "sphere64", "Frozen backbone: %s, or onnx:PATH (a frozen ONNX face model)."
                        % "|".join(sphere_net.backbone_names()))
    flags.DEFINE_string("pretrained_ckpt", None, "Backbone checkpoint (folder or prefix) restored into SphereNet/.")
    flags.DEFINE_list("image_size", ["112", "96"], "Input height,width.")
    flags.DEFINE_integer("embedding_size", 512, "Embedding dimension D.", lower_bound=1)
    flags.DEFINE_enum("backbone_precision", "auto", ["auto"] + sorted(compute_precision.PRECISIONS),
                      "The frozen backbone's convolutions and products. auto: bf16 on CPUs with AVX512_BF16/AMX "
                      "(oneDNN) and GPUs with bf16 when mu stays within cosine 0.999 of fp32 on the run's first 16 "
                      "faces, fp32 elsewhere (TF 1.x, the NPU's --precision_mode, exports); the head and the MLS "
                      "loss stay fp32.")
    flags.DEFINE_enum("head_input", "flattened", list(backbones.HEAD_INPUTS), "What the uncertainty head reads: "
                      "the backbone's last conv map flattened (the released PFE) or averaged over its positions "
                      "(pooled: C features, a head about H*W times smaller).")
    flags.DEFINE_string("embedding_node", None, "onnx: value whose L2-normalised output is mu (default: the graph "
                        "output).")
    flags.DEFINE_string("feature_node", None, "onnx: value flattened into the features, the head's input "
                        "(default: the input of the last Flatten or Gemm).")
    flags.DEFINE_float("onnx_input_scale", 128.0, "onnx: model input = standardised image * scale + offset "
                       "(defaults give 0..255 pixels, as SFace expects).")
    flags.DEFINE_float("onnx_input_offset", 127.5, "onnx: see --onnx_input_scale.")
    flags.DEFINE_enum("onnx_input_channels", "rgb", ["rgb", "bgr"], "onnx: the model's channel order.")
    flags.register_validator("image_size", image_size, "must be two positive integers HEIGHT,WIDTH, e.g. 112,96")
    flags.register_validator("onnx_input_scale", _positive, "must be a positive number")


def define_data_flags():
    flags.DEFINE_enum("data", "tfrecord", ["tfrecord", "synthetic"], "Training data: --data_dir TFRecords, or "
                      "random P x K batches for smoke and throughput runs.")
    flags.DEFINE_string("data_dir", None, "Folder of TFRecords from data_prep/make_tfrecords.py (one record per "
                        "identity, sampled P x K), or a feature cache from --mode=cache_features (then the head "
                        "trains without the backbone).")
    flags.DEFINE_string("cache_dir", None, "cache_features: output folder of the frozen backbone's cached outputs.")
    flags.DEFINE_enum("cache_dtype", "float16", ["float16", "float32"], "cache_features: storage of the head's "
                      "input (float32 reproduces the image path exactly, at twice the disk).")
    flags.DEFINE_integer("cache_degraded_copies", 0, "cache_features: also cache this many degraded copies of every "
                         "image (random kind and severity, seeded) as further images of its identity, for "
                         "quality-aware head training from the cache.", lower_bound=0)


def define_training_flags():
    flags.DEFINE_integer("batch_size", RECIPE.batch_size, "Images per step = num_classes_per_batch x images per "
                         "class (predict, eval, cache_features: images per forward pass).", lower_bound=1)
    flags.DEFINE_integer("num_classes_per_batch", RECIPE.num_classes_per_batch, "Identities per batch (P).",
                         lower_bound=1)
    flags.DEFINE_integer("max_steps", RECIPE.max_steps, "Total training steps (global step to stop at; pretrain "
                         "default %d)." % recipes.PretrainRecipe().max_steps, lower_bound=1)
    flags.DEFINE_list("learning_rates", [repr(rate) for rate in RECIPE.learning_rates], "Piecewise-constant "
                      "learning rates (pretrain default %s)." % ",".join(
                          map(repr, recipes.PretrainRecipe().learning_rates)))
    flags.DEFINE_list("learning_rate_boundaries", None, "Global steps at which the learning rate changes (default: "
                      "the paper's schedule scaled to --max_steps, the drop at two thirds: 2000 of 3000; pretrain: "
                      "16000,24000 of 28000 scaled likewise).")
    flags.DEFINE_float("momentum", RECIPE.momentum, "Momentum.")
    flags.DEFINE_float("weight_decay", RECIPE.weight_decay, "L2 weight decay on the uncertainty head (pretrain: on "
                       "every weight).")
    flags.DEFINE_float("degrade_probability", RECIPE.degrade_probability, "train from images: quality-aware "
                       "training, each image degraded with this probability by a random kind (blur, downscale, "
                       "JPEG, occlusion) and severity, its identity kept (pfe_estimator/faces/degradations.py; "
                       "needs OpenCV).", lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_float("quality_ranking_weight", RECIPE.quality_ranking_weight, "train from a feature cache with "
                       "degraded copies (--cache_degraded_copies): weight of a ranking loss added to MLS that asks "
                       "a copy for more uncertainty than its own source image, and a tagged copy of higher "
                       "severity for more than one of lower (RankIQA, ICCV 2017; 0: MLS alone, as released).")
    flags.DEFINE_float("quality_ranking_margin", RECIPE.quality_ranking_margin, "The ranking loss's margin: mean "
                       "log sigma^2 per severity step.")
    flags.DEFINE_float("am_scale", recipes.PretrainRecipe().am_scale, "pretrain: AM-softmax scale s.")
    flags.DEFINE_float("am_margin", recipes.PretrainRecipe().am_margin, "pretrain: AM-softmax additive margin m.")
    flags.DEFINE_integer("save_checkpoints_steps", 1000, "Checkpoint interval in steps.", lower_bound=1)
    flags.DEFINE_integer("keep_checkpoint_max", 5, "Checkpoints kept.", lower_bound=0)
    flags.DEFINE_integer("log_every_n_steps", 100, "Interval of the loss, steps/s and images/s log.", lower_bound=1)
    flags.DEFINE_string("calibration_pairs", None, "train, calibrate: fit P(same) on these pairs (LFW pairs.txt "
                        "format) of the --lfw_dir images, each also with one side degraded by the generator "
                        "(seeded), and every pair of their images when the file holds fewer impostors than 10 / FAR; "
                        "kept with the model (model_dir/calibration.json) for verify, eval and export.")
    flags.register_validator("learning_rates", _positive_numbers, "must be comma-separated positive numbers, e.g. "
                             "1e-3,1e-4")
    flags.register_validator("learning_rate_boundaries", _increasing_steps, "must be comma-separated, increasing, "
                             "positive integer steps, e.g. 2000 or 16000,24000")
    flags.register_validator("weight_decay", lambda value: math.isfinite(value) and value >= 0,
                             "must be a number >= 0 (0: no weight decay)")
    flags.register_validator("quality_ranking_weight", lambda value: math.isfinite(value) and value >= 0,
                             "must be a number >= 0 (0: no ranking loss)")
    flags.register_validator("quality_ranking_margin", _positive, "must be a positive number, e.g. 0.1")
    flags.register_validator("momentum", lambda value: math.isfinite(value) and 0 <= value < 1,
                             "must be a number in [0, 1), e.g. 0.9")
    flags.register_validator("am_scale", _positive, "must be a positive number")


def define_image_flags():
    flags.DEFINE_enum("align", "none", ["none", "detect"], "predict/eval/verify image files: none = aligned crops "
                      "(centre-cropped when larger, as the released code does); detect = raw photos: YuNet finds 5 "
                      "landmarks and the face is aligned as data_prep does (--detector_model, --alignment).")
    flags.DEFINE_string("detector_model", None, "--align=detect: OpenCV Zoo YuNet .onnx "
                        "(face_detection_yunet_2023mar*.onnx).")
    flags.DEFINE_enum("alignment", "cp2tform", list(alignment.ALIGNMENT_METHODS), "--align=detect: similarity fit, "
                      "as data_prep's --alignment.")
    flags.DEFINE_bool("resize", False, "predict/eval: resize aligned crops of another size to --image_size instead "
                      "of centre-cropping larger ones and refusing smaller ones.")


def define_eval_flags():
    flags.DEFINE_string("lfw_dir", None, "eval: aligned LFW TFRecords (data_prep/make_tfrecords.py "
                        "--min_images_per_identity=1), or their feature cache.")
    flags.DEFINE_string("lfw_pairs", None, "eval: LFW pairs.txt (10 folds of 300 genuine + 300 impostor pairs).")
    flags.DEFINE_string("embeddings", None, "eval: a precomputed embeddings file (.npz of names, mu, sigma_sq) "
                        "instead of running a model.")
    flags.DEFINE_string("saved_model", None, "eval/predict/verify: an exported SavedModel (--mode=export) instead "
                        "of --model_dir.")
    flags.DEFINE_string("embeddings_output", None, "eval: also save the LFW images' embeddings to this .npz.")
    flags.DEFINE_string("templates_csv", None, "eval: `template_id,path` CSV (IJB-style templates).")
    flags.DEFINE_string("template_pairs_csv", None, "eval: `template_a,template_b,label` CSV.")
    flags.DEFINE_string("template_image_root", None, "eval: folder the template CSV's paths are relative to (when "
                        "embeddings come from the model).")
    flags.DEFINE_enum("fusion", "paper", ["paper", "released"], "eval: template fusion: the paper's, or the "
                      "released code's (normalised mu, min sigma^2).")
    flags.DEFINE_string("report_dir", "report", "eval: report.json and PNG plots go here.")
    flags.DEFINE_string("pairs_csv", None, "eval, calibrate: anyone's pairs, `image_a,image_b,same` lines (same 1 or "
                        "0), the images under --image_root or named as in --embeddings.")
    flags.DEFINE_string("image_root", None, "eval, calibrate: the folder --pairs_csv's image paths are relative to.")
    flags.DEFINE_string("pair_scores_output", None, "eval with --pairs_csv: one CSV row per pair: image_a, image_b, "
                        "same, cosine, mls, p_same and accept_at_far_<far> at each calibrated FAR.")


def define_output_flags():
    flags.DEFINE_string("export_dir", "export/pfe", "export: output folder (SavedModel + pfe_frozen.pb).")
    flags.DEFINE_string("predict_dir", None, "predict: folder of aligned face images (searched recursively).")
    flags.DEFINE_string("predict_output", "embeddings.npz", "predict: embeddings file, .npz of names, mu [N,D], "
                        "sigma_sq [N,D].")
    flags.DEFINE_string("image_a", None, "verify: a face image (aligned crop, or a raw photo with --align=detect).")
    flags.DEFINE_string("image_b", None, "verify: the other face image.")
    flags.DEFINE_float("far", 1e-3, "verify, calibrate: the false accept rate of the decision (a calibration keeps "
                       "thresholds at 1e-3, 1e-2 and the --far given when calibrating), in (0, 1).")
    flags.register_validator("far", lambda value: math.isfinite(value) and 0 < value < 1,
                             "must be a false accept rate in (0, 1), e.g. 1e-3")
    flags.DEFINE_enum("score", None, list(calibration.SCORES), "verify, eval: the score that decides: "
                      "quality_thresholds = cosine against a threshold that follows the worse face's sigma^2; "
                      "monotone_logistic = P(same | cosine, the faces' uncertainties), monotone in cosine; logistic = "
                      "the same fitted freely; mls, cosine = one threshold each (model/calibration.py). Default: "
                      "the calibration's own (%s)." % calibration.DEFAULT_SCORE)
    flags.DEFINE_string("gallery_dir", None, "calibrate: the operator's gallery, one folder per enrolled person with "
                        "one or more photos (--align as for verify): thresholds from impostor pairs across people "
                        "and from --gallery_copies degraded copies of each photo; no same-person labels needed.")
    flags.DEFINE_integer("gallery_copies", 2, "calibrate --gallery_dir: degraded copies of each photo (every "
                         "degradation kind at severities 1-4, seeded), so that low qualities are calibrated.",
                         lower_bound=0)


CONCERNS = (("run", define_run_flags), ("device", define_device_flags), ("model", define_model_flags),
            ("data", define_data_flags), ("training", define_training_flags), ("images", define_image_flags),
            ("evaluation", define_eval_flags), ("outputs", define_output_flags))


def define_all():
    """Defines every flag of main.py, concern by concern."""
    for _, define in CONCERNS:
        define()


def _numbers(kind):
    def valid(values):
        try:
            [kind(v) for v in values]
        except ValueError:
            return False
        return True
    return valid


def image_size(value):
    """Whether a list flag's value is two positive integers HEIGHT,WIDTH."""
    return len(value) == 2 and _numbers(int)(value) and all(int(v) > 0 for v in value)


def _positive(value):
    return math.isfinite(value) and value > 0


def _positive_numbers(values):
    return _numbers(float)(values) and all(math.isfinite(float(v)) and float(v) > 0 for v in values)


def _increasing_steps(values):
    if values is None or not _numbers(int)(values):
        return values is None
    steps = [int(v) for v in values]
    return all(step > 0 for step in steps) and all(a < b for a, b in zip(steps, steps[1:]))
