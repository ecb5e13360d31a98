"""The frozen backbone run over many faces (feature caches, degraded copies, quality measures).

  with backbone_runtimes.runner(backbone, image_size) as runner:
      features, mu, norms = runner.run(faces, batch_size, progress, with_norms=True)

A runner returns what backbones.frozen_backbone defines: features [N, F] (the head's input: the feature node's
value flattened in ONNX's NCHW order, or averaged over positions), mu [N, D] L2-normalised, and the norm [N] of
the embedding mu came from. It runs the project's TensorFlow graph (model/backbones.py: SphereNet, or an ONNX
model imported as TF ops, fp32 or bf16), the graph training, export and serving run: chosen by measurement
against onnxruntime and OpenCV dnn on the same faces (bench/sface_pass.py), which were slower here.
"""
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import checkpoints


class TensorflowRunner(object):
    """The frozen backbone's TF graph in a session of its own. checkpoint: the SphereNet weights (None for ONNX)."""

    def __init__(self, backbone, image_size, checkpoint=None):
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.images = tf.placeholder(tf.float32, [None, image_size[0], image_size[1], 3], name="images")
            self.mu, self.features = backbones.frozen_backbone(self.images, backbone)
            self.norms = backbones.embedding_norm(self.mu)
            self.session = tf.Session(graph=self.graph)
            scope = backbones.variable_scope(backbone.name)
            if scope:
                checkpoints.restore_variables(self.session, checkpoint, tf.global_variables(scope + "/"))
        self.feature_size, self.embedding_size = int(self.features.shape[-1]), int(self.mu.shape[-1])

    def forward(self, batch):
        return self.session.run([self.features, self.mu, self.norms], {self.images: batch})

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def run(self, faces, batch_size, progress=None, with_norms=False, features_dtype=np.float32):
        """(features [N, F] of features_dtype, mu float32 [N, D][, norms float32 [N]]) of float32 [N, H, W, 3]
        standardised images (an array or an iterable); progress(count) is called after each batch. Each batch's
        features are kept in features_dtype as they come (float16: half the memory of a large set)."""
        outputs = []
        for batch in predict.in_batches(faces, batch_size):
            features, *rest = self.forward(np.stack(batch))
            outputs.append([features.astype(features_dtype, copy=False)] + rest)
            if progress:
                progress(len(batch))
        wanted = 3 if with_norms else 2
        return tuple(np.concatenate([o[i] for o in outputs]) for i in range(wanted))


def runner(backbone, image_size, checkpoint=None):
    """The backbone's runner: its TensorFlow graph (SphereNet with its checkpoint, or an ONNX model imported).
    onnxruntime and OpenCV dnn ran SFace slower on this CPU (bench/sface_pass.py, bench/runtimes.py)."""
    return TensorflowRunner(backbone, image_size, checkpoint)
