"""The frozen backbone run over many faces (feature caches, degraded copies, quality measures).

  with backbone_runtimes.runner(backbone, image_size) as runner:
      features, mu, norms = runner.run(faces, batch_size, progress, with_norms=True)

A runner returns what backbones.frozen_backbone defines: features [N, F] (the head's input: the feature node's
value flattened in ONNX's NCHW order, or averaged over positions), mu [N, D] L2-normalised, and the norm [N] of
the embedding mu came from. It runs the project's TensorFlow graph (model/backbones.py: SphereNet, or an ONNX
model imported as TF ops, fp32 or bf16), the graph training, export and serving run: chosen by measurement
against onnxruntime and OpenCV dnn on the same faces (bench/sface_pass.py), which were slower here.

Where the backbone is an ONNX model in bf16, the runner compiles its graph with XLA (jit, as --xla does for
training; `uses_xla`), for batches of XLA_BATCH faces (a short batch is padded): PReLU, batch norm and the casts
around each bf16 convolution then run fused, 1.8x the op-by-op bf16 graph's faces/s here (bench/sface_pass.py).
XLA's fused arithmetic moves fp32 values by ~1e-7, which bf16 rounding can make a few 1e-4 in mu: within bf16's
own distance from fp32 (the precision guard), but other bits, so a cache's key says so (`runtime_key`); one compiled
shape keeps a face's outputs independent of its batch (another XLA_BATCH: other bits, another key). fp32 (the
reference) and SphereNet run op by op.
XLA logs its first compilation through absl, which TF_CPP_MIN_LOG_LEVEL does not silence: where that level
asks for quiet (main.py's default), those lines are held back (training/devices.xla_notices_held_back).
"""
import contextlib

import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator.inference import predict
from pfe_estimator.model import backbones
from pfe_estimator.storage import checkpoints
from pfe_estimator.training import devices

XLA_BATCH = 128  # faces per compiled run: XLA compiles this one shape


def uses_xla(backbone):
    """Whether a runner compiles `backbone` with XLA here: an ONNX model in bf16, on a TensorFlow built with XLA."""
    bf16 = (backbone.options or {}).get("precision") == "bf16"
    built_with_xla = getattr(tf.test, "is_built_with_xla", lambda: False)()
    return bf16 and backbones.is_onnx(backbone.name) and built_with_xla


def runtime_key(backbone):
    """What of the runtime a key of the backbone's outputs (a cache's fingerprint, SFace's key in a work folder)
    names: TensorFlow's version (its kernels, oneDNN's and XLA's code decide the last bits: outputs of another
    version are never taken for this one's) and, where the runner compiles the backbone with XLA,
    'xla_batch': XLA_BATCH (the compiled shape decides the bits)."""
    key = {"tensorflow": tf.version.VERSION}
    if uses_xla(backbone):
        key["xla_batch"] = XLA_BATCH
    return key


class TensorflowRunner(object):
    """The frozen backbone's TF graph in a session of its own. checkpoint: the SphereNet weights (None for ONNX);
    xla: compile it with XLA (default uses_xla(backbone); False runs it op by op, bench/sface_pass.py's baseline)."""

    def __init__(self, backbone, image_size, checkpoint=None, xla=None):
        self.xla = uses_xla(backbone) if xla is None else xla
        self.compiled = False  # XLA compiles at the first run
        batch = XLA_BATCH if self.xla else None
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.images = tf.placeholder(tf.float32, [batch, image_size[0], image_size[1], 3], name="images")
            with tf.xla.experimental.jit_scope() if self.xla else contextlib.nullcontext():
                self.mu, self.features = backbones.frozen_backbone(self.images, backbone)
            self.norms = backbones.embedding_norm(self.mu)
            self.session = tf.Session(graph=self.graph)
            scope = backbones.variable_scope(backbone.name)
            if scope:
                checkpoints.restore_variables(self.session, checkpoint, tf.global_variables(scope + "/"))
        self.feature_size, self.embedding_size = int(self.features.shape[-1]), int(self.mu.shape[-1])

    def forward(self, batch):
        """[features [N, F], mu [N, D], norms [N]] of float32 [N, H, W, 3] faces (XLA: XLA_BATCH at a time)."""
        fetches = [self.features, self.mu, self.norms]
        if not self.xla:
            return self.session.run(fetches, {self.images: batch})
        pieces = []
        for start in range(0, len(batch), XLA_BATCH):
            piece = batch[start:start + XLA_BATCH]
            padded = piece
            if len(piece) < XLA_BATCH:  # the compiled shape: a short batch padded with zeros
                padded = np.zeros((XLA_BATCH,) + piece.shape[1:], np.float32)
                padded[:len(piece)] = piece
            with devices.xla_notices_held_back() if not self.compiled else contextlib.nullcontext():
                values = self.session.run(fetches, {self.images: padded})
            self.compiled = True
            pieces.append([value[:len(piece)] for value in values])
        return [np.concatenate(values) for values in zip(*pieces)]

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def run(self, faces, batch_size, progress=None, with_norms=False, features_dtype=np.float32):
        """(features [N, F] of features_dtype, mu float32 [N, D][, norms float32 [N]]) of float32 [N, H, W, 3]
        standardised images (an array or an iterable) in batches of batch_size (XLA: its compiled XLA_BATCH);
        progress(count) is called after each batch. Each batch's features are kept in features_dtype as they come
        (float16: half the memory of a large set)."""
        outputs = []
        for batch in predict.in_batches(faces, XLA_BATCH if self.xla else batch_size):
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
