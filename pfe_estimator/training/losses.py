"""Mutual Likelihood Score (MLS) and the MLS loss.

MLS of two Gaussians N(mu1, s1) and N(mu2, s2) with diagonal variances (the paper's 1/2 and constant
dropped, as in the released code):

    MLS = -sum_d [ (mu1_d - mu2_d)^2 / (s1_d + s2_d) + log(s1_d + s2_d) ]

The MLS loss is the mean of -MLS over the genuine pairs of a batch (same label, i != j).
"""
import numpy as np
import tensorflow.compat.v1 as tf

from pfe_estimator import errors


def negative_mls(mu1, sigma_sq1, mu2, sigma_sq2):
    """-MLS of aligned pairs of Gaussians.

    Args:
      mu1, sigma_sq1, mu2, sigma_sq2: float32 [..., D], broadcastable against each other.

    Returns:
      float32 [...], sum over the last axis of (mu1 - mu2)^2 / (s1 + s2) + log(s1 + s2).
    """
    sigma_sq_sum = sigma_sq1 + sigma_sq2
    return tf.reduce_sum(tf.square(mu1 - mu2) / sigma_sq_sum + tf.log(sigma_sq_sum), axis=-1)


def pk_pair_indices(num_classes, images_per_class):
    """Indices of every genuine pair (i < j) of a batch laid out identity by identity.

    The batch holds images_per_class consecutive images of each of num_classes identities, so
    images b and b' are genuine exactly when b // images_per_class == b' // images_per_class.

    Returns:
      (first, second): int32 numpy arrays [P * K * (K - 1) / 2].
    """
    within_class = np.array([(i, j) for i in range(images_per_class) for j in range(i + 1, images_per_class)],
                            dtype=np.int32).reshape(-1, 2)
    offsets = (np.arange(num_classes, dtype=np.int32) * images_per_class)[:, None, None]
    pairs = (within_class[None, :, :] + offsets).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def pk_mls_loss(mu, log_sigma_sq, num_classes, images_per_class):
    """MLS loss of a P x K batch, gathering its genuine pairs with static indices.

    No boolean mask and no B x B x D tensor: the P * K * (K - 1) / 2 genuine pairs are known before the
    data arrives, so every shape is static (as the Ascend NPU needs).

    Args:
      mu: float32 [P * K, D], batch laid out identity by identity.
      log_sigma_sq: float32 [P * K, D].
      num_classes: P.
      images_per_class: K >= 2.

    Returns:
      float32 scalar.
    """
    if images_per_class < 2:
        raise errors.UserError("the MLS loss needs at least 2 images per class, got %d" % images_per_class)
    first, second = pk_pair_indices(num_classes, images_per_class)
    sigma_sq = tf.exp(log_sigma_sq)
    pair_losses = negative_mls(tf.gather(mu, first), tf.gather(sigma_sq, first),
                               tf.gather(mu, second), tf.gather(sigma_sq, second))
    return tf.reduce_mean(pair_losses)


def mls_loss(labels, mu, log_sigma_sq):
    """MLS loss for arbitrary labels, with fixed-shape masked arithmetic.

    Builds the B x B x D tensor of all pairs (as the released code does), then averages over the genuine
    ones with a 0/1 mask instead of a boolean gather, so shapes stay static. A batch without genuine
    pairs gives 0.

    Args:
      labels: int [B].
      mu: float32 [B, D].
      log_sigma_sq: float32 [B, D].

    Returns:
      float32 scalar.
    """
    sigma_sq = tf.exp(log_sigma_sq)
    pair_losses = negative_mls(mu[:, None, :], sigma_sq[:, None, :], mu[None, :, :], sigma_sq[None, :, :])
    same_label = tf.equal(labels[:, None], labels[None, :])
    off_diagonal = tf.logical_not(tf.cast(tf.eye(tf.shape(labels)[0]), tf.bool))
    genuine = tf.cast(tf.logical_and(same_label, off_diagonal), tf.float32)
    return tf.reduce_sum(genuine * pair_losses) / tf.maximum(tf.reduce_sum(genuine), 1.0)


def quality_ranking_loss(log_sigma_sq, severity, source, margin):
    """Hinge ranking loss on the uncertainty of degraded copies against their own source image.

    RankIQA (Liu, van de Weijer and Bagdanov, ICCV 2017) learns image quality from rankings of synthetic
    distortions of one image, whose order is known without labels; Chen et al. (IEEE Signal Processing
    Letters 2015) rank face quality the same way. Here, of two images of the batch with the same source
    (an original and its copies), the one of higher severity must have the larger mean log sigma^2, by at
    least margin per severity step:

        mean over such (i, j), severity_i > severity_j, of max(0, margin * (s_i - s_j) - (m_i - m_j)),

    m the mean of log sigma^2 over dimensions. B x B masks with static shapes (B is the P x K batch); a
    batch without such a pair gives 0.

    Args:
      log_sigma_sq: float32 [B, D].
      severity: int [B], 0 for an original (feature_cache.copy_ranks).
      source: int64 [B], equal for an image and its copies.
      margin: float, in log sigma^2 per severity step.

    Returns:
      float32 scalar.
    """
    mean_log_sigma_sq = tf.reduce_mean(log_sigma_sq, axis=1)
    steps = tf.cast(severity[:, None] - severity[None, :], tf.float32)
    ranked = tf.cast(tf.logical_and(tf.equal(source[:, None], source[None, :]), steps > 0), tf.float32)
    hinge = tf.nn.relu(margin * steps - (mean_log_sigma_sq[:, None] - mean_log_sigma_sq[None, :]))
    return tf.reduce_sum(ranked * hinge) / tf.maximum(tf.reduce_sum(ranked), 1.0)


def am_softmax_loss(embeddings, labels, num_classes, scale=30.0, margin=0.35, scope="Logits"):
    """Additive-margin softmax (CosFace / AM-softmax) for training the backbone.

    logits = s * (cos(theta_j) - m * [j == label]), with cos the product of the L2-normalised embedding
    and L2-normalised class weights; loss = mean softmax cross-entropy.

    Args:
      embeddings: float32 [B, D] (normalised inside).
      labels: int [B] in 0..num_classes-1.
      num_classes: C; creates `<scope>/weights` [D, C].
      scale, margin: s and m.

    Returns:
      (loss float32 [], cosine float32 [B, C]).
    """
    with tf.variable_scope(scope):
        weights = tf.get_variable("weights", [int(embeddings.shape[-1]), num_classes], tf.float32,
                                  tf.glorot_uniform_initializer())
    cosine = tf.matmul(tf.nn.l2_normalize(embeddings, axis=1), tf.nn.l2_normalize(weights, axis=0))
    one_hot = tf.one_hot(labels, num_classes, dtype=tf.float32)
    logits = scale * (cosine - margin * one_hot)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(labels=one_hot, logits=logits))
    return loss, cosine
