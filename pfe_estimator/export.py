"""Exporting a trained PFE checkpoint: a SavedModel for serving and a frozen GraphDef for Ascend ATC."""
import os
import shutil

import tensorflow.compat.v1 as tf

from pfe_estimator import checkpoints
from pfe_estimator import model_fn as pfe_model

FROZEN_GRAPH_NAME = "pfe_frozen.pb"
INPUT_NODE = "images"
OUTPUT_NODES = ("mu", "sigma_sq")


def build_inference_graph(backbone, embedding_size, image_size, backbone_options=None):
    """Adds the inference network to the default graph.

    Returns:
      (images placeholder float32 [None, H, W, 3] named 'images', mu [None, D] named 'mu',
       sigma_sq [None, D] named 'sigma_sq').
    """
    height, width = image_size
    images = tf.placeholder(tf.float32, [None, height, width, 3], name=INPUT_NODE)
    mu, log_sigma_sq = pfe_model.pfe_outputs(images, backbone, embedding_size, False, backbone_options)
    return images, tf.identity(mu, name="mu"), tf.identity(tf.exp(log_sigma_sq), name="sigma_sq")


def _replace_directory(source, destination):
    """Moves the finished `source` folder to `destination`, replacing any earlier one."""
    previous = destination + ".previous"
    if os.path.exists(previous):
        shutil.rmtree(previous)
    if os.path.exists(destination):
        os.rename(destination, previous)
    os.rename(source, destination)
    if os.path.exists(previous):
        shutil.rmtree(previous)


def export_pfe(checkpoint_path, export_dir, backbone, embedding_size, image_size, backbone_options=None):
    """Writes `export_dir`: a SavedModel (signature 'serving_default': images -> mu, sigma_sq) and, beside
    its saved_model.pb, the frozen GraphDef `pfe_frozen.pb` with nodes images, mu and sigma_sq.

    The folder is built under a temporary name and renamed when complete.

    Args:
      checkpoint_path: a model_dir or checkpoint prefix (ours, or the released PFE models).
      export_dir: output folder.
      backbone, embedding_size, image_size, backbone_options: the network's configuration.

    Returns:
      The checkpoint prefix that was exported.
    """
    checkpoint = checkpoints.resolve_checkpoint(checkpoint_path)
    staging = export_dir.rstrip("/") + ".partial"
    if os.path.exists(staging):
        shutil.rmtree(staging)
    with tf.Graph().as_default() as graph:
        images, mu, sigma_sq = build_inference_graph(backbone, embedding_size, image_size, backbone_options)
        variables = pfe_model.network_variables()
        checkpoints.check_variables_in_checkpoint(checkpoint, variables)
        saver = tf.train.Saver(variables)
        with tf.Session(graph=graph) as session:
            saver.restore(session, checkpoint)
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
    _replace_directory(staging, export_dir)
    return checkpoint
