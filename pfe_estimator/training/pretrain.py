"""Pretraining the deterministic backbone that PFE then freezes: SphereNet with an AM-softmax head.

The whole backbone trains (its Bottleneck batch norm in training mode); the checkpoint it writes holds
`SphereNet/...` under the released names, which is what `--pretrained_ckpt` restores for PFE training.
"""
import tensorflow.compat.v1 as tf

from pfe_estimator.training import optimization
from pfe_estimator.training import losses
from pfe_estimator.model import sphere_net

def pretrain_model_fn_builder(backbone, num_classes, optimizer_config, weight_decay, scale, margin, images_per_step,
                              log_every_n_steps=100, steps_per_run=1):
    """Returns a model_fn training SphereNet with AM-softmax over num_classes identities.

    Features {'images': float32 [B, H, W, 3]}, labels int [B] in 0..num_classes-1. TRAIN minimises the
    AM-softmax loss + weight decay; EVAL reports loss and accuracy; PREDICT returns {'mu': [B, D]}.
    Static shapes throughout (NPUEstimator-ready).

    Args:
      backbone: a backbones.Backbone naming a SphereNet (its options do not apply: pretraining trains it).
      optimizer_config: an optimization.OptimizerConfig.
      scale, margin: AM-softmax's s and m.
      images_per_step: images one step trains on, over all replicas (for the throughput log).
      steps_per_run: the NPU's iterations_per_loop (for the throughput log).
    """

    def model_fn(features, labels, mode):
        training = mode == tf.estimator.ModeKeys.TRAIN
        mu, _ = sphere_net.sphere_net(features["images"], backbone.name, backbone.embedding_size, training=training,
                                      trainable=True)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return tf.estimator.EstimatorSpec(mode, predictions={"mu": mu})
        margin_loss, cosine = losses.am_softmax_loss(mu, labels, num_classes, scale, margin)
        total_loss = margin_loss + optimization.weight_decay_loss(weight_decay, tf.trainable_variables())
        correct = tf.cast(tf.equal(tf.argmax(cosine, axis=1, output_type=tf.int32), tf.cast(labels, tf.int32)),
                          tf.float32)
        if mode == tf.estimator.ModeKeys.EVAL:
            return tf.estimator.EstimatorSpec(mode, loss=total_loss, eval_metric_ops={
                "am_softmax_loss": tf.metrics.mean(margin_loss), "accuracy": tf.metrics.mean(correct)})
        tf.summary.scalar("losses/am_softmax_loss", margin_loss)
        tf.summary.scalar("losses/total_loss", total_loss)
        tf.summary.scalar("train_accuracy", tf.reduce_mean(correct))
        return optimization.training_spec(total_loss, margin_loss, tf.trainable_variables(), optimizer_config,
                                          images_per_step, log_every_n_steps, steps_per_run)

    return model_fn
