"""Exporting a trained PFE checkpoint: a folder that predicts and verifies on its own.

  saved_model.pb, variables/   SavedModel; signatures 'serving_default' (images float32 [N, H, W, 3]
                               standardised -> mu, sigma_sq) and 'serving_bytes' (image_bytes string [N] of
                               JPEG/PNG aligned crops -> mu, sigma_sq; inference/serving_graph.py)
  pfe_frozen.pb                the frozen GraphDef (images -> mu, sigma_sq) for Ascend ATC
  pfe.onnx                     the same network in ONNX (tf2onnx; TF 2.x only), N dynamic
  pfe_export.json              what inference needs: image size, alignment template, backbone, embedding
                               size, the calibration and the training recipe when the model has them
"""
import json
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.inference import serving_graph
from pfe_estimator.model import backbones
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import checkpoints
from pfe_estimator.training import pfe_model
from pfe_estimator.storage import outputs

FROZEN_GRAPH_NAME = "pfe_frozen.pb"
ONNX_NAME = "pfe.onnx"
RECORD_NAME = "pfe_export.json"
BYTES_SIGNATURE = "serving_bytes"
INPUT_NODE = "images"
OUTPUT_NODES = ("mu", "sigma_sq")
ONNX_OPSET = 13
KIND = "export"


def build_inference_graph(backbone, image_size, default_images=None):
    """Adds the inference network of a backbones.Backbone at image_size (H, W) to the default graph.

    default_images: when given, 'images' is a placeholder with this default (the bytes signature's decoded
    crops): feeding 'images' skips it.

    Returns:
      (images placeholder float32 [None, H, W, 3] named 'images', mu [None, D] named 'mu',
       sigma_sq [None, D] named 'sigma_sq').
    """
    height, width = image_size
    if default_images is None:
        images = tf.placeholder(tf.float32, [None, height, width, 3], name=INPUT_NODE)
    else:
        images = tf.placeholder_with_default(default_images, [None, height, width, 3], name=INPUT_NODE)
    mu, log_sigma_sq = pfe_model.pfe_outputs(images, backbone, False)
    return images, tf.identity(mu, name="mu"), tf.identity(tf.exp(log_sigma_sq), name="sigma_sq")


def checkpoint_sources(checkpoint, backbone, pretrained_checkpoint=None):
    """[(checkpoint prefix, variables)] that restore the network in the default graph, each checked.

    The backbone comes from pretrained_checkpoint when given (a head trained from a feature cache holds
    none), else everything from `checkpoint`.

    Raises:
      ValueError: a variable missing from its checkpoint or of another shape there, naming both, with the
        likely cause (flags that differ from the training run).
    """
    scope = backbones.variable_scope(backbone.name)
    sources = [(checkpoint, pfe_model.network_variables())]
    if pretrained_checkpoint and scope:
        sources = [(checkpoint, pfe_model.network_variables(include_backbone=False)),
                   (checkpoints.resolve_checkpoint(pretrained_checkpoint), tf.global_variables(scope + "/"))]
    for prefix, variables in sources:
        try:
            checkpoints.check_variables_in_checkpoint(prefix, variables)
        except ValueError as error:
            raise errors.UserError("%s (do --backbone, --image_size or --embedding_size differ from the training run?)"
                             % error)
    return sources


def check_checkpoint_fits(checkpoint, backbone, image_size, pretrained_checkpoint=None):
    """Raises a one-line ValueError unless the network these settings build restores from `checkpoint`."""
    with tf.Graph().as_default():
        build_inference_graph(backbone, image_size)
        checkpoint_sources(checkpoint, backbone, pretrained_checkpoint)


def export_pfe(checkpoint_path, export_dir, backbone, image_size, overwrite=False, pretrained_checkpoint=None,
               record=None, onnx=True):
    """Writes `export_dir` (see the module doc).

    The folder is built under a temporary name beside it and renamed when complete; an earlier export
    stays intact until then. Refused (outputs.OutputError): an export_dir that overlaps the checkpoint's
    folder, or that holds anything but an earlier export unless `overwrite`.

    Args:
      checkpoint_path: a model_dir or checkpoint prefix (ours, or the released PFE models).
      export_dir: output folder.
      backbone, image_size: the network (a backbones.Backbone) and its input size (H, W).
      overwrite: replace an export_dir that is not an earlier export.
      pretrained_checkpoint: when given, the SphereNet backbone is restored from it and only the head from
        checkpoint_path (a head trained from a feature cache holds none).
      record: JSON-able dict kept as pfe_export.json beside the network (image_size and backbone are added).
      onnx: also write pfe.onnx; a graph the converter cannot take is said in one line and skipped.

    Returns:
      (the checkpoint prefix that was exported, the ONNX problem or None when pfe.onnx was written or not asked).
    """
    export_dir = os.path.normpath(export_dir)
    checkpoint = checkpoints.intact_checkpoint(checkpoint_path)
    outputs.check_run_paths({"export_dir": export_dir}, {"model_dir": os.path.dirname(checkpoint),
                                                         "pretrained_ckpt": pretrained_checkpoint})
    record = dict(record or {}, image_size=list(image_size), backbone=backbone.name,
                  embedding_size=backbone.embedding_size, checkpoint=os.path.abspath(checkpoint))
    with outputs.replacing_directory(export_dir, KIND, "export_dir", {"checkpoint": os.path.abspath(checkpoint)},
                                     overwrite) as staging:
        _write_saved_model(checkpoint, staging, backbone, image_size, pretrained_checkpoint)
        frozen = _write_frozen_graph(checkpoint, staging, backbone, image_size, pretrained_checkpoint)
        problem = onnx_problem()
        if onnx and not problem:
            problem = write_onnx(frozen, os.path.join(staging, ONNX_NAME))
        record["onnx"] = None if problem or not onnx else ONNX_NAME
        atomic_files.write_json(os.path.join(staging, RECORD_NAME), record)
    return checkpoint, problem if onnx else None


def _restored_session(graph, checkpoint, backbone, pretrained_checkpoint):
    session = tf.Session(graph=graph)
    for prefix, variables in checkpoint_sources(checkpoint, backbone, pretrained_checkpoint):
        checkpoints.restore_variables(session, prefix, variables)
    return session


def _write_saved_model(checkpoint, staging, backbone, image_size, pretrained_checkpoint):
    """The SavedModel with both signatures, one network: 'images' defaults to the decoded bytes."""
    with tf.Graph().as_default() as graph:
        image_bytes = tf.placeholder(tf.string, [None], name=serving_graph.BYTES_INPUT)
        images, mu, sigma_sq = build_inference_graph(backbone, image_size,
                                                     serving_graph.decode_crops(image_bytes, image_size))
        with _restored_session(graph, checkpoint, backbone, pretrained_checkpoint) as session:
            outputs_map = {"mu": mu, "sigma_sq": sigma_sq}
            builder = tf.saved_model.Builder(staging)
            builder.add_meta_graph_and_variables(session, [tf.saved_model.SERVING], signature_def_map={
                tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: tf.saved_model.predict_signature_def(
                    inputs={"images": images}, outputs=outputs_map),
                BYTES_SIGNATURE: tf.saved_model.predict_signature_def(
                    inputs={serving_graph.BYTES_INPUT: image_bytes}, outputs=outputs_map)})
            builder.save()


def _write_frozen_graph(checkpoint, staging, backbone, image_size, pretrained_checkpoint):
    """pfe_frozen.pb: a plain 'images' placeholder (what ATC and tf2onnx take); returns the GraphDef."""
    with tf.Graph().as_default() as graph:
        build_inference_graph(backbone, image_size)
        with _restored_session(graph, checkpoint, backbone, pretrained_checkpoint) as session:
            frozen = tf.graph_util.convert_variables_to_constants(session, graph.as_graph_def(), list(OUTPUT_NODES))
    with atomic_files.writing(os.path.join(staging, FROZEN_GRAPH_NAME)) as temporary, open(temporary, "wb") as f:
        f.write(frozen.SerializeToString())
    return frozen


def onnx_problem():
    """Why this installation cannot write pfe.onnx (one line), or None."""
    if not tf.version.VERSION.startswith("2."):
        return "ONNX export needs TensorFlow 2.x (tf2onnx); this is %s: pfe.onnx not written" % tf.version.VERSION
    try:
        import tf2onnx  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
    except ImportError:
        return "ONNX export needs tf2onnx (pip install -r requirements.txt): pfe.onnx not written"
    return None


def write_onnx(frozen_graph_def, path):
    """Converts the frozen GraphDef (images -> mu, sigma_sq; N dynamic) to ONNX at `path` with tf2onnx.

    Returns:
      None, or one line saying why the converter could not take the graph (no file is written then).
    """
    import tf2onnx  # pylint: disable=import-outside-toplevel  # TF 2.x only
    try:
        with tf.Graph().as_default():
            model, _ = tf2onnx.convert.from_graph_def(
                frozen_graph_def, input_names=[INPUT_NODE + ":0"], output_names=[n + ":0" for n in OUTPUT_NODES],
                opset=ONNX_OPSET)
    except Exception as error:  # pylint: disable=broad-except  # the converter's own failures, as one line
        return "tf2onnx could not convert the graph (%s: %s): pfe.onnx not written" % (
            type(error).__name__, errors.first_line(str(error)))
    with atomic_files.writing(path) as temporary, open(temporary, "wb") as f:
        f.write(model.SerializeToString())
    return None


def read_record(export_dir):
    """pfe_export.json of an export folder, or None (an export from before it was written)."""
    path = os.path.join(export_dir, RECORD_NAME)
    if not os.path.isfile(path):
        return None

    with open(path, encoding="utf-8") as f:
        return json.load(f)
