"""Exporting a trained PFE checkpoint: a folder that predicts and verifies on its own.

  saved_model.pb, variables/   SavedModel; signatures 'serving_default' (images float32 [N, H, W, 3]
                               standardised -> mu, sigma_sq), 'serving_bytes' (image_bytes string [N] of
                               JPEG/PNG aligned crops -> mu, sigma_sq; inference/serving_graph.py) and, for a
                               calibrated model, 'serving_verify' (image_bytes_a, image_bytes_b string [N] ->
                               cosine, mls, p_same [N] and accept_at_far_<far> bool [N] at each FAR the
                               calibration decides at: the whole question answered in the graph with the
                               calibration's constants, model/calibration.py)
  pfe_frozen.pb                the frozen GraphDef (images -> mu, sigma_sq) for Ascend ATC
  pfe.onnx                     the same network in ONNX (tf2onnx; TF 2.x only), N dynamic
  pfe_export.json              what inference needs: image size, alignment template, backbone, embedding
                               size, the identity of the checkpoint exported ('model'), the calibration and what
                               serving_verify decides with ('verify'), the training recipe
  pfe_export.previous-N.json   the earlier records of this folder (a recalibration or a re-export keeps them)

The calibration in pfe_export.json and serving_verify's constants come from one Calibration value; a mode that
reads the export checks that they are equal and that the calibration was fitted for the checkpoint exported.
"""
import glob
import json
import logging
import os
import shutil

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.faces import alignment
from pfe_estimator.inference import predict
from pfe_estimator.inference import serving_graph
from pfe_estimator.model import backbones
from pfe_estimator.model import calibration
from pfe_estimator.model import verification
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import checkpoints
from pfe_estimator.storage import model_config
from pfe_estimator.storage import outputs
from pfe_estimator.training import pfe_model

FROZEN_GRAPH_NAME = "pfe_frozen.pb"
ONNX_NAME = "pfe.onnx"
RECORD_NAME = "pfe_export.json"
BYTES_SIGNATURE = "serving_bytes"
VERIFY_SIGNATURE = "serving_verify"
VERIFY_INPUTS = ("image_bytes_a", "image_bytes_b")
CALIBRATION_SCOPE = "calibration"  # the constants serving_verify decides with (--mode=calibrate rewrites them)
ACCEPT_NODE = "accept_at_far_index_%d"  # the decision at the calibration's i-th FAR
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
               record=None, onnx=True, calibrated=None):
    """Writes `export_dir` (see the module doc).

    The folder is built under a temporary name beside it and renamed when complete; an earlier export
    stays intact until then. Refused (outputs.OutputError): an export_dir that overlaps the checkpoint's
    folder, or that holds anything but an earlier export unless `overwrite`. An earlier export's history
    (pfe_export.previous-N.json) is carried over, and so is its own calibration (one fitted on the export by
    --mode=calibrate) when it was fitted for the checkpoint exported now; a calibration it no longer uses
    becomes one more previous record.

    Args:
      checkpoint_path: a model_dir or checkpoint prefix (ours, or the released PFE models).
      export_dir: output folder.
      backbone, image_size: the network (a backbones.Backbone) and its input size (H, W).
      overwrite: replace an export_dir that is not an earlier export.
      pretrained_checkpoint: when given, the SphereNet backbone is restored from it and only the head from
        checkpoint_path (a head trained from a feature cache holds none).
      record: JSON-able dict kept as pfe_export.json beside the network (image_size and backbone are added).
      onnx: also write pfe.onnx; a graph the converter cannot take is said in one line and skipped.
      calibrated: the model folder's calibration (model.calibration.Calibration) or None.

    Returns:
      (the checkpoint prefix that was exported, the ONNX problem or None when pfe.onnx was written or not asked,
       the calibration serving_verify decides with or None).

    Raises:
      UserError: a calibration fitted for another checkpoint than the one exported (with the command that
        recalibrates the model folder).
    """
    export_dir = os.path.normpath(export_dir)
    checkpoint = checkpoints.intact_checkpoint(checkpoint_path)
    outputs.check_run_paths({"export_dir": export_dir}, {"model_dir": os.path.dirname(checkpoint),
                                                         "pretrained_ckpt": pretrained_checkpoint})
    identity = model_config.model_identity(checkpoint, _backbone_record(backbone), pretrained_checkpoint)
    chosen, history, own = _export_calibration(export_dir, calibrated, identity, checkpoint_path)
    record = dict(record or {}, image_size=list(image_size), backbone=backbone.name,
                  embedding_size=backbone.embedding_size, checkpoint=os.path.abspath(checkpoint), model=identity,
                  calibration=chosen.as_json() if chosen else None, verify=verify_record(chosen),
                  calibrated_on_export=own)
    kept = "the earlier export is kept" if os.path.isdir(export_dir) else "nothing was written"
    with atomic_files.full_disk_named(export_dir, lambda: kept), outputs.replacing_directory(
            export_dir, KIND, "export_dir", {"checkpoint": os.path.abspath(checkpoint)}, overwrite) as staging:
        _write_saved_model(checkpoint, staging, backbone, image_size, pretrained_checkpoint, chosen)
        frozen = _write_frozen_graph(checkpoint, staging, backbone, image_size, pretrained_checkpoint)
        problem = onnx_problem()
        if onnx and not problem:
            problem = write_onnx(frozen, os.path.join(staging, ONNX_NAME))
        record["onnx"] = None if problem or not onnx else ONNX_NAME
        for name, text in history:
            atomic_files.write_text(os.path.join(staging, name), text)
        atomic_files.write_json(os.path.join(staging, RECORD_NAME), record)
    return checkpoint, problem if onnx else None, chosen


def _backbone_record(backbone):
    """What identifies an ONNX backbone apart from the checkpoint: its file's sha256."""
    if backbones.is_onnx(backbone.name):
        return {"onnx_sha256": outputs.file_digest(backbone.name[len(backbones.ONNX_PREFIX):])}
    return {}


def _export_calibration(export_dir, calibrated, identity, checkpoint_path):
    """(the calibration a new export decides with, [(file name, text)] of the records it keeps as history, whether
    the calibration is the export's own): the
    earlier export's own calibration (fitted on it by --mode=calibrate) when fitted for this checkpoint, else the
    model folder's, which must be fitted for this checkpoint; an earlier record whose calibration is not carried
    on joins the history."""
    path = os.path.join(export_dir, RECORD_NAME)
    if not (os.path.isfile(path) and (outputs.read_marker(export_dir) or {}).get("kind") == KIND):
        return _checked(calibrated, identity, checkpoint_path), [], False
    history = []
    for earlier_path in sorted(glob.glob(os.path.join(glob.escape(export_dir), "pfe_export.previous-*.json"))):
        with open(earlier_path, encoding="utf-8") as f:
            history.append((os.path.basename(earlier_path), f.read()))
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        earlier_record = json.loads(text)
        earlier = calibration.from_json(earlier_record["calibration"], path)
    except (ValueError, KeyError, TypeError, errors.UserError):
        earlier_record, earlier = {}, None
    if earlier is not None and earlier_record.get("calibrated_on_export") and earlier.fitted_for(identity):
        return earlier, history, True
    if earlier is not None and (calibrated is None or earlier.as_json() != calibrated.as_json()):
        history.append((os.path.basename(atomic_files.previous_name(path)), text))
    return _checked(calibrated, identity, checkpoint_path), history, False


def _checked(calibrated, identity, checkpoint_path):
    """The model folder's calibration, refused unless fitted for the checkpoint exported."""
    if calibrated is not None:
        calibrated.check_model(identity, os.path.join(checkpoint_path, calibration.NAME), "--model_dir=%s"
                               % checkpoint_path)
    return calibrated


def _restored_session(graph, checkpoint, backbone, pretrained_checkpoint):
    session = tf.Session(graph=graph)
    for prefix, variables in checkpoint_sources(checkpoint, backbone, pretrained_checkpoint):
        checkpoints.restore_variables(session, prefix, variables)
    return session


def verify_record(calibrated):
    """What serving_verify decides with, for pfe_export.json: its score, the FARs it decides at, those it does not
    and why, whether it answers P(same), where its thresholds come from (None without a calibration)."""
    if not calibrated:
        return None
    return {"signature": VERIFY_SIGNATURE, "score": calibrated.default_score, "fars": calibrated.decided_fars(),
            "no_decision": calibrated.undecided(), "p_same": calibration.PROBABILITY_SCORE in calibrated.scores,
            "population": calibrated.describe()}


def _write_saved_model(checkpoint, staging, backbone, image_size, pretrained_checkpoint, calibrated):
    """The SavedModel, one network for every signature: 'images' defaults to the decoded 'image_bytes',
    which default to image_bytes_a then image_bytes_b (serving_verify's two crops in one batch)."""
    with tf.Graph().as_default() as graph:
        bytes_a, bytes_b = (tf.placeholder_with_default(tf.zeros([0], tf.string), [None], name=name)
                            for name in VERIFY_INPUTS)
        image_bytes = tf.placeholder_with_default(tf.concat([bytes_a, bytes_b], 0), [None],
                                                  name=serving_graph.BYTES_INPUT)
        images, mu, sigma_sq = build_inference_graph(backbone, image_size,
                                                     serving_graph.decode_crops(image_bytes, image_size))
        outputs_map = {"mu": mu, "sigma_sq": sigma_sq}
        signatures = {
            tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: tf.saved_model.predict_signature_def(
                inputs={"images": images}, outputs=outputs_map),
            BYTES_SIGNATURE: tf.saved_model.predict_signature_def(
                inputs={serving_graph.BYTES_INPUT: image_bytes}, outputs=outputs_map)}
        if calibrated:
            signatures[VERIFY_SIGNATURE] = tf.saved_model.predict_signature_def(
                inputs={VERIFY_INPUTS[0]: bytes_a, VERIFY_INPUTS[1]: bytes_b},
                outputs=verify_outputs(mu, sigma_sq, paired_count(bytes_a, bytes_b), calibrated))
        with _restored_session(graph, checkpoint, backbone, pretrained_checkpoint) as session:
            session.run(tf.variables_initializer(tf.global_variables(CALIBRATION_SCOPE)))
            builder = tf.saved_model.Builder(staging)
            builder.add_meta_graph_and_variables(session, [tf.saved_model.SERVING], signature_def_map=signatures)
            builder.save()


def paired_count(bytes_a, bytes_b):
    """N of serving_verify's two inputs, which pair face by face: a request with more of one than of the other
    fails with InvalidArgument naming both counts (no broadcasting: the first face is never silently compared
    with several)."""
    count_a, count_b = tf.shape(bytes_a)[0], tf.shape(bytes_b)[0]
    check = tf.Assert(tf.equal(count_a, count_b), ["image_bytes_a and image_bytes_b pair face by face: give as many "
                                                   "of each; got", count_a, count_b])
    with tf.control_dependencies([check]):
        return tf.identity(count_a)


def verify_outputs(mu, sigma_sq, count, calibrated):
    """serving_verify's outputs from the network's [2N] outputs (the first N faces against the last N): cosine,
    MLS, P(same) (with a logistic) and the decision at each FAR the calibration decides at, computed with its
    graph constants (model.calibration.Calibration.graph_constants), which are variables under CALIBRATION_SCOPE
    so that --mode=calibrate can rewrite them."""
    values = verification.pair_values(mu[:count], sigma_sq[:count], mu[count:], sigma_sq[count:], math=tf.math)
    with tf.variable_scope(CALIBRATION_SCOPE):
        constants = {name: tf.get_variable(name, initializer=value, trainable=False)
                     for name, value in sorted(calibrated.graph_constants().items())}
    probability, accepts = calibration.decide_in_graph(
        values, constants, calibration.SCORES[calibrated.default_score].statistic, tf.math)
    result = {"cosine": values["cosine"], "mls": values["mls"]}
    if probability is not None:
        result["p_same"] = probability
    decided = calibrated.decided_fars()
    for index, far in enumerate(calibrated.fars):
        accept = tf.identity(accepts[index], name=ACCEPT_NODE % index)
        if far in decided:
            result["accept_at_far_%s" % far] = accept
    return result


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


def _skipped_rewrites(record):
    """A logging filter: False for tf2onnx's line about a rewrite it skipped."""
    return not str(record.msg).startswith("rewriter ")


def write_onnx(frozen_graph_def, path):
    """Converts the frozen GraphDef (images -> mu, sigma_sq; N dynamic) to ONNX at `path` with tf2onnx.

    Returns:
      None, or one line saying why the converter could not take the graph (no file is written then).
    """
    import tf2onnx  # pylint: disable=import-outside-toplevel  # TF 2.x only
    converter_log, rewriter_log = logging.getLogger("tf2onnx"), logging.getLogger("tf2onnx.tfonnx")
    level = converter_log.level
    converter_log.setLevel(logging.ERROR)
    # A rewrite it skips is logged at ERROR ("rewriter <rewrite_leakyrelu>: exception ...", SFace's PReLU as
    # max(x, slope x)): the ops stay as they are, the graph is converted right all the same (tested): noise.
    rewriter_log.addFilter(_skipped_rewrites)
    try:
        with tf.Graph().as_default():
            model, _ = tf2onnx.convert.from_graph_def(
                frozen_graph_def, input_names=[INPUT_NODE + ":0"], output_names=[n + ":0" for n in OUTPUT_NODES],
                opset=ONNX_OPSET)
    except Exception as error:  # pylint: disable=broad-except  # the converter's own failures, as one line
        return "tf2onnx could not convert the graph (%s: %s): pfe.onnx not written" % (
            type(error).__name__, errors.first_line(str(error)))
    finally:
        converter_log.setLevel(level)
        rewriter_log.removeFilter(_skipped_rewrites)
    with atomic_files.writing(path) as temporary, open(temporary, "wb") as f:
        f.write(model.SerializeToString())
    return None


def check_recalibration(export_dir, fars):
    """Refuses, in one line before any work, to recalibrate an export whose serving_verify cannot take a new
    calibration at `fars`: one exported without a calibration (no serving_verify), or deciding at other FARs."""
    record = read_record(export_dir)
    if not record.get("verify") or not record.get("calibration"):
        raise errors.UserError("--saved_model=%s has no %s signature (exported without a calibration): calibrate "
                               "the model folder (--mode=calibrate --model_dir=...), then export it again"
                               % (export_dir, VERIFY_SIGNATURE))
    exported = calibration.from_json(record["calibration"], os.path.join(export_dir, RECORD_NAME)).fars
    if exported != sorted(float(far) for far in fars):
        raise errors.UserError("--saved_model=%s decides at FAR %s; a calibration at FAR %s needs a new export "
                               "(calibrate the model folder, then --mode=export)" % (
                                   export_dir, ",".join(map(str, exported)), ",".join(map(str, fars))))


def recalibrate(export_dir, calibrated):
    """Puts a new calibration into an export: serving_verify's constants rewritten (the SavedModel saved again from
    its own graph beside the folder, then swapped in), its outputs the FARs the new calibration decides at, and
    pfe_export.json's calibration; the earlier record is kept as pfe_export.previous-N.json. Returns
    (pfe_export.json, the earlier record's copy).

    Raises:
      UserError: a calibration for another model than the export's, or one serving_verify cannot take (another
        score or FARs, P(same) where the graph has none or none where it has one).
    """
    check_recalibration(export_dir, calibrated.fars)
    with outputs.writer_lock(export_dir, "calibrate"):
        record = read_record(export_dir)
        calibrated.check_model(record["model"], "the new calibration", "--saved_model=%s" % export_dir)
        earlier = calibration.from_json(record["calibration"], os.path.join(export_dir, RECORD_NAME))
        if sorted(calibrated.graph_constants()) != sorted(earlier.graph_constants()) or calibration.SCORES[
                calibrated.default_score].statistic != calibration.SCORES[earlier.default_score].statistic:
            raise errors.UserError("--saved_model=%s decides with %s; a calibration deciding with %s needs a new "
                                   "export (calibrate the model folder, then --mode=export)" % (
                                       export_dir, earlier.default_score, calibrated.default_score))
        return _recalibrated(export_dir, record, calibrated)


def _recalibrated(export_dir, record, calibrated):
    staging = outputs.staging_directory(export_dir)
    try:
        saved = os.path.join(staging, "saved_model")
        with tf.Graph().as_default() as graph, tf.Session() as session:
            signatures = dict(predict.load_saved_model(session, export_dir).signature_def)
            variables = {v.op.name[len(CALIBRATION_SCOPE) + 1:]: v for v in tf.global_variables(CALIBRATION_SCOPE)}
            for name, value in calibrated.graph_constants().items():
                variables[name].load(value, session)
            signatures[VERIFY_SIGNATURE] = _decided_outputs(signatures[VERIFY_SIGNATURE], graph, calibrated)
            builder = tf.saved_model.Builder(saved)
            builder.add_meta_graph_and_variables(session, [tf.saved_model.SERVING], signature_def_map=signatures)
            builder.save()
        for name in ("saved_model.pb", "variables"):
            outputs.replace_path(os.path.join(saved, name), os.path.join(export_dir, name))
        path = os.path.join(export_dir, RECORD_NAME)
        kept = atomic_files.write_json_keeping_previous(path, dict(record, calibration=calibrated.as_json(),
                                                                   verify=verify_record(calibrated),
                                                                   calibrated_on_export=True))
        outputs.add_written(export_dir, [os.path.basename(kept)])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, kept


def _decided_outputs(signature, graph, calibrated):
    """serving_verify's signature with an accept_at_far output for each FAR the calibration decides at."""
    from tensorflow.core.protobuf import meta_graph_pb2  # pylint: disable=import-outside-toplevel
    updated = meta_graph_pb2.SignatureDef()
    updated.CopyFrom(signature)
    for key in [key for key in updated.outputs if key.startswith("accept_at_far_")]:
        del updated.outputs[key]
    decided = calibrated.decided_fars()
    for index, far in enumerate(calibrated.fars):
        if far in decided:
            tensor = graph.get_tensor_by_name(ACCEPT_NODE % index + ":0")
            updated.outputs["accept_at_far_%s" % far].CopyFrom(tf.saved_model.utils.build_tensor_info(tensor))
    return updated


def read_calibration(export_dir, record):
    """The calibration an export decides with (None without one), checked: fitted for the checkpoint exported,
    and equal to serving_verify's constants in the SavedModel.

    Raises:
      UserError: a calibration that is not usable, of another model, or that disagrees with the graph's constants.
    """
    stored = (record or {}).get("calibration")
    if not stored:
        return None
    where = os.path.join(export_dir, RECORD_NAME)
    calibrated = calibration.from_json(stored, where)
    if not record.get("model"):
        raise errors.UserError("%s: names no checkpoint identity (an export of an earlier version); export the "
                               "model again" % where)
    calibrated.check_model(record["model"], where, "--saved_model=%s" % export_dir)
    reader = tf.train.load_checkpoint(os.path.join(export_dir, "variables", "variables"))
    for name, value in sorted(calibrated.graph_constants().items()):
        variable = "%s/%s" % (CALIBRATION_SCOPE, name)
        if not reader.has_tensor(variable) or not np.array_equal(reader.get_tensor(variable), value):
            raise errors.UserError("%s: its calibration and serving_verify's constants in the SavedModel disagree "
                                   "(%s); recalibrate the export (--mode=calibrate --saved_model=%s ...) or export "
                                   "the model again" % (where, name, export_dir))
    return calibrated


def read_record(export_dir):
    """pfe_export.json of an export folder, checked against the SavedModel beside it: this pipeline's signature,
    the image size it takes, the template of that size.

    Raises:
      UserError: a record that is missing, not JSON, not an object, with an image size that is not H,W integers,
        or that contradicts the SavedModel, naming the file; a SavedModel without this pipeline's 'images' ->
        'mu', 'sigma_sq' signature.
    """
    taken = saved_model_image_size(export_dir)
    path = os.path.join(export_dir, RECORD_NAME)
    if not os.path.isfile(path):
        raise errors.UserError("%s: missing; an export folder needs its record beside the SavedModel (the image size, "
                               "the template, the calibration): restore it, or export the model again" % path)
    try:
        with open(path, encoding="utf-8") as f:
            record = json.load(f)
    except (ValueError, UnicodeDecodeError) as error:
        raise errors.UserError("%s: not valid JSON (%s); export the model again" % (path, errors.first_line(error)))
    if not isinstance(record, dict):
        raise errors.UserError("%s: not a JSON object; export the model again" % path)
    size = record.get("image_size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise errors.UserError("%s: image_size %s is not two positive integers H,W; export the model again"
                               % (path, json.dumps(size)))
    if tuple(size) != taken:
        raise errors.UserError("%s: image_size %d,%d contradicts the SavedModel beside it: the SavedModel takes "
                               "%dx%d; restore the file or export the model again" % ((path,) + tuple(size) + taken))
    template = record.get("template")
    if template and alignment.template(template)[0] != taken:
        raise errors.UserError("%s: template %s aligns %dx%d crops, the SavedModel takes %dx%d; restore the file or "
                               "export the model again" % ((path, template) + tuple(alignment.template(template)[0]) +
                                                           taken))
    return record


def saved_model_image_size(export_dir):
    """(H, W) the export's serving_default signature takes, read from saved_model.pb alone.

    Raises:
      UserError: no SavedModel there, or one without this pipeline's images -> mu, sigma_sq signature.
    """
    from google.protobuf import message  # pylint: disable=import-outside-toplevel
    from tensorflow.core.protobuf import saved_model_pb2  # pylint: disable=import-outside-toplevel
    saved = saved_model_pb2.SavedModel()
    try:
        with open(os.path.join(export_dir, "saved_model.pb"), "rb") as f:
            saved.ParseFromString(f.read())
    except (IOError, OSError, message.DecodeError) as error:
        raise errors.UserError("--saved_model=%s: cannot be loaded (%s); export it again with --mode=export" % (
            export_dir, getattr(error, "strerror", None) or errors.first_line(error) or type(error).__name__))
    signatures = saved.meta_graphs[0].signature_def if saved.meta_graphs else {}
    signature = signatures.get(tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)
    shape = [d.size for d in signature.inputs[INPUT_NODE].tensor_shape.dim] if signature and \
        INPUT_NODE in signature.inputs else []
    ours = signature is not None and set(OUTPUT_NODES) <= set(signature.outputs) and len(shape) == 4
    if not ours:
        raise errors.UserError("--saved_model=%s: not an export of this pipeline (its serving_default signature has no "
                               "images -> mu, sigma_sq); export a model with --mode=export" % export_dir)
    return shape[1], shape[2]
