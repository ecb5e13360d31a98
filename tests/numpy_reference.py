"""Direct numpy transcriptions of the PFE network and the MLS definitions, independent of the project."""
import numpy as np


def conv2d_same(x, w, stride):
    """TensorFlow 'SAME' convolution. x [N, H, W, Ci], w [k, k, Ci, Co] -> [N, ceil(H/s), ceil(W/s), Co]."""
    n, h, wd, _ = x.shape
    k = w.shape[0]
    out_h, out_w = -(-h // stride), -(-wd // stride)
    pad_h = max((out_h - 1) * stride + k - h, 0)
    pad_w = max((out_w - 1) * stride + k - wd, 0)
    x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((n, out_h, out_w, w.shape[3]), np.float64)
    for i in range(k):
        for j in range(k):
            patch = x[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride, :]
            out += np.einsum("nhwc,cd->nhwd", patch, w[i, j])
    return out


def prelu(x, alpha):
    return np.maximum(x, 0) + alpha * np.minimum(x, 0)


def released_variable_names(residual_units):
    """The released tf.contrib.slim checkpoint names of SphereNet + UncertaintyModule."""
    names = []
    for stage, units in enumerate(residual_units):
        scope = "SphereNet/conv%d/" % (stage + 1)
        names += [scope + "Conv/weights", scope + "Conv/biases", scope + "Conv/p_re_lu/alpha"]
        for index in range(1, 2 * units + 1):
            names += [scope + "Conv_%d/weights" % index, scope + "Conv_%d/p_re_lu/alpha" % index]
    names += ["SphereNet/Bottleneck/weights"] + ["SphereNet/Bottleneck/BatchNorm/" + v
                                                  for v in ("beta", "moving_mean", "moving_variance")]
    names += ["UncertaintyModule/fc1/weights"] + ["UncertaintyModule/fc1/BatchNorm/" + v for v in
                                                   ("beta", "gamma", "moving_mean", "moving_variance")]
    names += ["UncertaintyModule/fc_log_sigma_sq/weights"] + [
        "UncertaintyModule/fc_log_sigma_sq/BatchNorm/" + v for v in ("moving_mean", "moving_variance")]
    names += ["UncertaintyModule/scale_and_shift/alpha", "UncertaintyModule/scale_and_shift/gamma"]
    return names


def pfe_forward(images, weights, residual_units, epsilon=1e-3):
    """Inference of SphereNet + uncertainty head from a {released name: array} dict.

    Returns (mu [N, D], sigma_sq [N, D]) in float64.
    """
    net = images.astype(np.float64)
    for stage, units in enumerate(residual_units):
        scope = "SphereNet/conv%d/" % (stage + 1)
        net = conv2d_same(net, weights[scope + "Conv/weights"], 2) + weights[scope + "Conv/biases"]
        net = prelu(net, weights[scope + "Conv/p_re_lu/alpha"])
        shortcut = net
        for unit in range(units):
            for index in (2 * unit + 1, 2 * unit + 2):
                layer = scope + "Conv_%d/" % index
                net = prelu(conv2d_same(net, weights[layer + "weights"], 1), weights[layer + "p_re_lu/alpha"])
            net = net + shortcut
            shortcut = net
    features = net.reshape(net.shape[0], -1)

    def batch_norm(x, scope, beta=True, gamma=True):
        x = (x - weights[scope + "moving_mean"]) / np.sqrt(weights[scope + "moving_variance"] + epsilon)
        if gamma:
            x = x * weights[scope + "gamma"]
        if beta:
            x = x + weights[scope + "beta"]
        return x

    embedding = batch_norm(features @ weights["SphereNet/Bottleneck/weights"], "SphereNet/Bottleneck/BatchNorm/",
                           gamma=False)
    mu = embedding / np.linalg.norm(embedding, axis=1, keepdims=True)
    hidden = np.maximum(batch_norm(features @ weights["UncertaintyModule/fc1/weights"],
                                   "UncertaintyModule/fc1/BatchNorm/"), 0)
    raw = batch_norm(hidden @ weights["UncertaintyModule/fc_log_sigma_sq/weights"],
                     "UncertaintyModule/fc_log_sigma_sq/BatchNorm/", beta=False, gamma=False)
    log_sigma_sq = (weights["UncertaintyModule/scale_and_shift/alpha"] * raw +
                    weights["UncertaintyModule/scale_and_shift/gamma"])
    sigma_sq = 1e-6 + np.exp(log_sigma_sq)
    return mu, sigma_sq


def negative_mls(mu1, s1, mu2, s2):
    s = s1 + s2
    return float(np.sum((mu1 - mu2) ** 2 / s + np.log(s)))


def mls_loss_by_definition(labels, mu, log_sigma_sq):
    """Mean of -MLS over all ordered pairs i != j with the same label."""
    sigma_sq = np.exp(log_sigma_sq.astype(np.float64))
    mu = mu.astype(np.float64)
    values = [negative_mls(mu[i], sigma_sq[i], mu[j], sigma_sq[j])
              for i in range(len(labels)) for j in range(len(labels)) if i != j and labels[i] == labels[j]]
    return float(np.mean(values)) if values else 0.0
