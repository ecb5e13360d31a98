"""MLS scoring throughput: the chunked, vectorised score matrix against a direct per-pair loop, and the
end-to-end LFW evaluation given features.

  python -m bench.mls_scoring [--lfw_pairs ../shared/data/lfw/pairs.txt]

Both scorers run in this process on the same random 512-d Gaussians; the LFW part times
report.lfw_report (10-fold protocol for cosine and MLS, TAR@FAR, AUC, risk-controlled curve, plots) on
random features for every image pairs.txt names.
"""
import argparse
import os
import tempfile
import time

import numpy as np
from pfe_estimator.evaluation import metrics
from pfe_estimator.data import pair_files
from pfe_estimator.evaluation import report


def loop_scores(mu1, s1, mu2, s2):
    scores = np.empty((len(mu1), len(mu2)))
    for i in range(len(mu1)):
        for j in range(len(mu2)):
            total = s1[i] + s2[j]
            scores[i, j] = -np.sum((mu1[i] - mu2[j]) ** 2 / total + np.log(total))
    return scores


def loop_fusion(mu, sigma_sq, template_rows):
    """The released evaluation's way: a Python loop over templates (their rows listed beforehand, as the
    released protocol's Template.indices are), each fused on its own."""
    fused_mu, fused_sigma_sq = [], []
    for rows in template_rows:
        sigma_sq_hat = 1.0 / np.sum(1.0 / sigma_sq[rows], axis=0)
        fused_mu.append(sigma_sq_hat * np.sum(mu[rows] / sigma_sq[rows], axis=0))
        fused_sigma_sq.append(sigma_sq_hat)
    return np.array(fused_mu), np.array(fused_sigma_sq)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--lfw_pairs", default=os.path.join(os.path.dirname(here), "shared", "data", "lfw",
                                                            "pairs.txt"))
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--columns", type=int, default=2000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--templates", type=int, default=5000, help="templates of 1-8 faces for the fusion part")
    args = parser.parse_args()
    rng = np.random.RandomState(0)
    mu1 = rng.normal(size=(args.rows, args.dims)).astype(np.float32)
    mu2 = rng.normal(size=(args.columns, args.dims)).astype(np.float32)
    s1 = rng.uniform(0.01, 1, size=mu1.shape).astype(np.float32)
    s2 = rng.uniform(0.01, 1, size=mu2.shape).astype(np.float32)

    start = time.perf_counter()
    matrix = metrics.mls_score_matrix(mu1, s1, mu2, s2)
    vectorised = args.rows * args.columns / (time.perf_counter() - start)
    loop_rows = 20
    start = time.perf_counter()
    direct = loop_scores(mu1[:loop_rows], s1[:loop_rows], mu2, s2)
    looped = loop_rows * args.columns / (time.perf_counter() - start)
    assert np.allclose(direct, matrix[:loop_rows], rtol=1e-5)
    print("MLS scores, D=%d, float32 features" % args.dims)
    print("  chunked matrix %dx%d: %12.0f pairs/s" % (args.rows, args.columns, vectorised))
    print("  per-pair loop  %dx%d:   %12.0f pairs/s" % (loop_rows, args.columns, looped))
    print("  matrix / loop: %.1fx" % (vectorised / looped))

    template_ids = np.repeat(np.arange(args.templates), rng.randint(1, 9, size=args.templates))
    faces = len(template_ids)
    mu = rng.normal(size=(faces, args.dims)).astype(np.float32)
    sigma_sq = rng.uniform(0.01, 1, size=mu.shape).astype(np.float32)
    start = time.perf_counter()
    _, fused_mu, fused_sigma_sq, _ = metrics.fuse_templates(mu, sigma_sq, template_ids)
    vectorised = time.perf_counter() - start
    template_rows = [np.flatnonzero(template_ids == t) for t in range(args.templates)]  # not timed
    start = time.perf_counter()
    looped_mu, looped_sigma_sq = loop_fusion(mu, sigma_sq, template_rows)
    looped = time.perf_counter() - start
    assert np.allclose(fused_mu, looped_mu, rtol=1e-4, atol=1e-6) and np.allclose(fused_sigma_sq, looped_sigma_sq,
                                                                                     rtol=1e-4)
    print("template fusion, %d faces into %d templates of 1-8, D=%d: vectorised %.3f s, loop over templates %.3f s: "
          "%.1fx (same numbers)" % (faces, args.templates, args.dims, vectorised, looped, looped / vectorised))

    pairs = pair_files.read_lfw_pairs(args.lfw_pairs)
    names = sorted(set(pairs.first) | set(pairs.second))
    mu = rng.normal(size=(len(names), args.dims)).astype(np.float32)
    mu /= np.linalg.norm(mu, axis=1, keepdims=True)
    sigma_sq = rng.uniform(0.01, 1, size=mu.shape).astype(np.float32)
    start = time.perf_counter()
    report.lfw_report(names, mu, sigma_sq, pairs)
    metrics_seconds = time.perf_counter() - start
    start = time.perf_counter()
    report.lfw_report(names, mu, sigma_sq, pairs, report_dir=tempfile.mkdtemp(prefix="pfe_bench_report_"))
    with_plots = time.perf_counter() - start
    print("LFW evaluation given features (%d images, %d pairs): metrics %.2f s, with plots %.2f s"
          % (len(names), len(pairs.same), metrics_seconds, with_plots))


if __name__ == "__main__":
    main()
