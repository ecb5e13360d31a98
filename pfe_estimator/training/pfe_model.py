"""The PFE `model_fn`: frozen backbone -> mu, uncertainty head -> sigma^2, MLS loss on the head only."""
import tensorflow.compat.v1 as tf

from pfe_estimator.model import backbones
from pfe_estimator.storage import checkpoints
from pfe_estimator.training import optimization
from pfe_estimator.training import losses
from pfe_estimator.model import sphere_net
from pfe_estimator.model import uncertainty_head


def head_outputs(mu, backbone_features, training):
    """The uncertainty head on a frozen backbone's outputs (no gradient flows back into them).

    Args:
      mu: float32 [N, D]; backbone_features: float32 [N, F].
      training: Python bool: the head's batch norm uses and updates batch statistics.

    Returns:
      (mu, log_sigma_sq): float32 [N, D] each.
    """
    mu, backbone_features = tf.stop_gradient(mu), tf.stop_gradient(backbone_features)
    log_sigma_sq = uncertainty_head.uncertainty_head(backbone_features, int(mu.shape[-1]), training=training)
    return mu, log_sigma_sq


def pfe_outputs(images, backbone, training):
    """The PFE network, shared by the model_fn and the exporter.

    Args:
      images: float32 [N, H, W, 3], standardised as (x - 127.5) / 128.
      backbone: a backbones.Backbone.
      training: Python bool: the head's batch norm uses and updates batch statistics. The backbone
        always runs in inference mode, frozen (non-trainable weights, no gradient).

    Returns:
      (mu, log_sigma_sq): float32 [N, D] each.
    """
    mu, backbone_features = backbones.frozen_backbone(images, backbone)
    return head_outputs(mu, backbone_features, training)


def network_variables(include_backbone=True):
    """The network's variables (backbone unless not include_backbone, and head), without optimizer slots or
    the global step.

    Restoring only these lets the released PFE checkpoints, which hold nothing else, predict and export.
    """
    scopes = (sphere_net.SCOPE + "/", uncertainty_head.SCOPE + "/") if include_backbone else (
        uncertainty_head.SCOPE + "/",)
    return [v for v in tf.global_variables() if v.op.name.startswith(scopes)]


def network_only_scaffold(include_backbone=True):
    """A Scaffold that restores only `network_variables(include_backbone)` and initialises every other variable.

    A released PFE checkpoint holds neither a global step nor optimizer slots, so PREDICT must not ask
    the checkpoint for them: they are initialised in local_init_op instead, once the network is restored.
    Without include_backbone, the backbone is initialised from its own checkpoint (init_from_checkpoint):
    a head trained from a feature cache has no backbone in its checkpoint.
    """
    network = network_variables(include_backbone)
    others = [v for v in tf.global_variables() if v not in network]
    return tf.train.Scaffold(
        saver=tf.train.Saver(network),
        ready_for_local_init_op=tf.report_uninitialized_variables(network),
        local_init_op=tf.group(tf.local_variables_initializer(), tf.tables_initializer(),
                               tf.variables_initializer(others)))


def _add_summaries(mls_loss, regularization_loss, ranking_loss, log_sigma_sq):
    tf.summary.scalar("losses/mls_loss", mls_loss)
    tf.summary.scalar("losses/regularization_loss", regularization_loss)
    if ranking_loss is not None:
        tf.summary.scalar("losses/quality_ranking_loss", ranking_loss)
    mean, variance = tf.nn.moments(tf.reshape(log_sigma_sq, [-1]), axes=[0])
    tf.summary.scalar("log_sigma_sq/mean", mean)
    tf.summary.scalar("log_sigma_sq/std", tf.sqrt(variance))
    tf.summary.histogram("log_sigma_sq", log_sigma_sq)


def pfe_model_fn_builder(backbone, num_classes_per_batch, images_per_class, optimizer_config, weight_decay,
                         pretrained_checkpoint, log_every_n_steps=100, num_replicas=1, steps_per_run=1,
                         quality_ranking=(0.0, 0.0)):
    """Returns a `model_fn` for tf.estimator.Estimator or NPUEstimator.

    Args:
      backbone: a backbones.Backbone.
      num_classes_per_batch: P; a training batch holds P identities x K images, identity by identity.
        None when the model_fn only predicts.
      images_per_class: K (None when it only predicts).
      optimizer_config: an optimization.OptimizerConfig (learning rates, momentum, the device's wrapper).
      weight_decay: L2 decay on the head's fully connected weights.
      pretrained_checkpoint: folder or prefix to restore `SphereNet/` from, or None (random backbone). In
        PREDICT the backbone comes from it, and only the head from the model's checkpoint (the backbone is
        frozen, so both hold the same backbone, and a head trained from a feature cache holds none).
      log_every_n_steps: interval of the steps/s and images/s log.
      num_replicas: replicas each taking a whole P x K batch per step (MirroredStrategy), for images/s.
      steps_per_run: training steps one session run executes (the NPU's iterations_per_loop), for the rates.
      quality_ranking: (weight, margin) of losses.quality_ranking_loss added to the MLS loss in training
        (weight 0: none); it needs the features 'severity' and 'source' (a cache input_fn's quality_ranks).

    The model_fn takes features {'images': float32 [B, H, W, 3]}, or from the feature cache
    {'features': float32 [B, F], 'mu': float32 [B, D]} (the backbone is then skipped), and labels int [B]
    (TRAIN and EVAL; EVAL reports the mean MLS loss). In PREDICT it returns {'mu': [B, D], 'sigma_sq': [B, D]}.
    """
    def model_fn(features, labels, mode):
        training = mode == tf.estimator.ModeKeys.TRAIN
        if "images" in features:
            mu, log_sigma_sq = pfe_outputs(features["images"], backbone, training)
        else:
            mu, log_sigma_sq = head_outputs(features["mu"], features["features"], training)

        scope = backbones.variable_scope(backbone.name)
        if pretrained_checkpoint and scope and "images" in features:
            restored = checkpoints.init_scope_from_checkpoint(pretrained_checkpoint, scope)
            tf.logging.info("backbone %s initialised from %s", scope, restored)
        elif training and scope and "images" in features:
            tf.logging.warning("no --pretrained_ckpt: the frozen backbone keeps its RANDOM initialisation; "
                               "use this only for smoke and throughput runs")

        if mode == tf.estimator.ModeKeys.PREDICT:
            predictions = {"mu": mu, "sigma_sq": tf.exp(log_sigma_sq)}
            return tf.estimator.EstimatorSpec(
                mode, predictions=predictions,
                export_outputs={"serving_default": tf.estimator.export.PredictOutput(predictions)},
                scaffold=network_only_scaffold(include_backbone=not (pretrained_checkpoint and scope)))
        mls_loss = losses.pk_mls_loss(mu, log_sigma_sq, num_classes_per_batch, images_per_class)
        head = tf.trainable_variables(uncertainty_head.SCOPE + "/")
        regularization_loss = optimization.weight_decay_loss(weight_decay, head)
        total_loss = mls_loss + regularization_loss
        ranking_loss = None
        if training and quality_ranking[0] > 0:
            ranking_loss = losses.quality_ranking_loss(log_sigma_sq, features["severity"], features["source"],
                                                       quality_ranking[1])
            total_loss += quality_ranking[0] * ranking_loss
        if mode == tf.estimator.ModeKeys.EVAL:
            return tf.estimator.EstimatorSpec(mode, loss=total_loss,
                                              eval_metric_ops={"mls_loss": tf.metrics.mean(mls_loss)})

        _add_summaries(mls_loss, regularization_loss, ranking_loss, log_sigma_sq)
        return optimization.training_spec(
            total_loss, total_loss, head, optimizer_config,
            num_classes_per_batch * images_per_class * num_replicas, log_every_n_steps, steps_per_run)

    return model_fn
