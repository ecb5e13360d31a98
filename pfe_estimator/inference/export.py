"""Exporting a trained PFE checkpoint: a SavedModel for serving and a frozen GraphDef for Ascend ATC."""
import os

import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.model import backbones
from pfe_estimator.storage import checkpoints
from pfe_estimator.training import pfe_model
from pfe_estimator.storage import outputs

FROZEN_GRAPH_NAME = "pfe_frozen.pb"
INPUT_NODE = "images"
OUTPUT_NODES = ("mu", "sigma_sq")
KIND = "export"


def build_inference_graph(backbone, image_size):
    """Adds the inference network of a backbones.Backbone at image_size (H, W) to the default graph.

    Returns:
      (images placeholder float32 [None, H, W, 3] named 'images', mu [None, D] named 'mu',
       sigma_sq [None, D] named 'sigma_sq').
    """
    height, width = image_size
    images = tf.placeholder(tf.float32, [None, height, width, 3], name=INPUT_NODE)
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


def export_pfe(checkpoint_path, export_dir, backbone, image_size, overwrite=False, pretrained_checkpoint=None):
    """Writes `export_dir`: a SavedModel (signature 'serving_default': images -> mu, sigma_sq) and, beside
    its saved_model.pb, the frozen GraphDef `pfe_frozen.pb` with nodes images, mu and sigma_sq.

    The folder is built under a temporary name beside it and renamed when complete; an earlier export
    stays intact until then. Refused (outputs.OutputError): an export_dir that overlaps the checkpoint's
    folder, or that holds anything but an earlier export unless `overwrite`.

    Args:
      checkpoint_path: a model_dir or checkpoint prefix (ours, or the released PFE models).
      export_dir: output folder.
      backbone, image_size: the network (a backbones.Backbone) and its input size (H, W).
      overwrite: replace an export_dir that is not an earlier export.
      pretrained_checkpoint: when given, the SphereNet backbone is restored from it and only the head from
        checkpoint_path (a head trained from a feature cache holds no backbone).

    Returns:
      The checkpoint prefix that was exported.
    """
    export_dir = os.path.normpath(export_dir)
    checkpoint = checkpoints.intact_checkpoint(checkpoint_path)
    outputs.check_run_paths({"export_dir": export_dir}, {"model_dir": os.path.dirname(checkpoint),
                                                         "pretrained_ckpt": pretrained_checkpoint})
    with outputs.replacing_directory(export_dir, KIND, "export_dir", {"checkpoint": os.path.abspath(checkpoint)},
                                     overwrite) as staging:
        _write_export(checkpoint, staging, backbone, image_size, pretrained_checkpoint)
    return checkpoint


def _write_export(checkpoint, staging, backbone, image_size, pretrained_checkpoint):
    """Writes the SavedModel and the frozen GraphDef of a checkpoint into the new folder `staging`."""
    with tf.Graph().as_default() as graph:
        images, mu, sigma_sq = build_inference_graph(backbone, image_size)
        sources = checkpoint_sources(checkpoint, backbone, pretrained_checkpoint)
        with tf.Session(graph=graph) as session:
            for prefix, variables in sources:
                checkpoints.restore_variables(session, prefix, variables)
            builder = tf.saved_model.Builder(staging)
            signature = tf.saved_model.predict_signature_def(
                inputs={"images": images}, outputs={"mu": mu, "sigma_sq": sigma_sq})
            builder.add_meta_graph_and_variables(
                session, [tf.saved_model.SERVING],
                signature_def_map={tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: signature})
            builder.save()
            frozen = tf.graph_util.convert_variables_to_constants(
                session, graph.as_graph_def(), list(OUTPUT_NODES))
    with open(os.path.join(staging, FROZEN_GRAPH_NAME), "wb") as f:
        f.write(frozen.SerializeToString())
