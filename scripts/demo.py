"""The built-in demo: the whole PFE chain on procedurally drawn faces, on a CPU, in minutes.

  python -m scripts.demo [--work_dir demo_run]

1. data_prep/make_demo_faces.py: training and held-out identities, each image degraded by a recorded amount;
2. data_prep/make_tfrecords.py: aligned to the half-size PFE template (56x48);
3. main.py --mode=pretrain: a SphereNet-4 backbone with AM-softmax;
4. main.py --mode=train: the PFE head on the frozen backbone;
5. main.py --mode=eval: cosine vs MLS on the held-out pairs, report and plots;
then the Spearman correlation between each test image's mean sigma^2 and its degradation severity.
Every step is the real command-line tool; the sizes and step counts are flags. The work folder is the
demo's own (marked): a rerun with the same flags reuses it, each step resuming or keeping what it finished,
and ends with the same numbers; a rerun with other flags rebuilds it; a folder the demo did not make is refused.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import time

import numpy as np

from pfe_estimator.data import embedding_files

from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs
from pfe_estimator.evaluation import metrics
from pfe_estimator.evaluation import plots

OUTPUT_KIND = "demo"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODEL_FLAGS = ["--backbone=sphere4", "--image_size=56,48", "--batch_size=64", "--num_classes_per_batch=16",
               "--device=cpu", "--random_seed=0"]


def run(step, command):
    """Runs one stage, streaming its output (TensorFlow's C++ start-up lines left out unless
    TF_CPP_MIN_LOG_LEVEL says otherwise); stops the demo with the stage's name if it fails."""
    print("\n== %s\n$ %s" % (step, " ".join(command)), flush=True)
    start = time.time()
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))
    if subprocess.call(command, cwd=ROOT, env=environment) != 0:
        sys.exit("demo: step '%s' failed" % step)
    print("== %s: %.0f s" % (step, time.time() - start), flush=True)


def degradation_correlation(faces_dir, embeddings_path, report_dir):
    """Spearman correlation of mean sigma^2 with degradation severity over the evaluated test images."""
    with open(os.path.join(faces_dir, "degradations.csv")) as f:
        rows = {embedding_files.image_name(r["path"]): r for r in csv.DictReader(f)}
    data = np.load(embeddings_path)
    names = [str(n) for n in data["names"]]
    uncertainty = data["sigma_sq"].mean(axis=1)
    severity = np.array([float(rows[n]["severity"]) for n in names])
    kinds = np.array([rows[n]["kind"] for n in names])
    result = {"spearman_all": metrics.spearman_correlation(uncertainty, severity), "images": len(names),
              "by_kind": {}}
    series = {}
    bins = np.linspace(0, 1, 6)
    for kind in sorted(set(kinds) - {"clean"}):
        chosen = kinds == kind
        result["by_kind"][kind] = metrics.spearman_correlation(uncertainty[chosen], severity[chosen])
        series[kind] = [float(np.mean(uncertainty[chosen & (severity >= lo) & (severity < hi + 1e-9)]))
                        if np.any(chosen & (severity >= lo) & (severity < hi + 1e-9)) else float("nan")
                        for lo, hi in zip(bins[:-1], bins[1:])]
    result["clean_mean_sigma_sq"] = float(uncertainty[kinds == "clean"].mean()) if np.any(kinds == "clean") else None
    plots.curves(100 * (bins[:-1] + bins[1:]) / 2, series, os.path.join(report_dir, "demo_sigma_sq_by_degradation.png"),
                 "Demo: uncertainty vs degradation", "degradation severity (%)", "mean sigma^2")
    outputs.add_written(report_dir, ["demo_sigma_sq_by_degradation.png"])  # the demo's own, replaced by a rerun
    return result


def claim_work_dir(work, settings):
    """Makes `work` the demo's folder for these settings: reused when it already is, rebuilt (with a line
    saying what changed) when the demo made it with other settings, refused when the demo did not make it."""
    marker = outputs.read_marker(work)
    rebuild = bool(marker and marker.get("kind") == OUTPUT_KIND and marker.get("fingerprint") != settings)
    if rebuild:
        print("demo: %s was made with other settings (%s); rebuilding it" % (
            work, "; ".join(outputs.fingerprint_changes(marker.get("fingerprint"), settings))))
    try:
        state = outputs.claim_directory(work, OUTPUT_KIND, "work_dir", settings, overwrite=rebuild)
    except outputs.OutputError as error:
        sys.exit("error: %s" % error)
    if state == "resume":
        print("demo: reusing %s (same settings): finished steps are kept" % work)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work_dir", default="demo_run")
    parser.add_argument("--train_identities", type=int, default=300)
    parser.add_argument("--test_identities", type=int, default=100)
    parser.add_argument("--images_per_identity", type=int, default=10)
    parser.add_argument("--pretrain_steps", type=int, default=1200)
    parser.add_argument("--pfe_steps", type=int, default=600)
    args = parser.parse_args()
    start = time.time()
    work = os.path.abspath(args.work_dir)
    claim_work_dir(work, {key: value for key, value in sorted(vars(args).items()) if key != "work_dir"})
    faces, train_records, test_records = (os.path.join(work, n) for n in ("faces", "train_records", "test_records"))
    pretrained, pfe, report_dir = (os.path.join(work, n) for n in ("pretrain", "pfe", "report"))
    python = sys.executable
    run("generate faces", [python, "-m", "data_prep.make_demo_faces", "--output_dir=" + faces,
                           "--train_identities=%d" % args.train_identities,
                           "--test_identities=%d" % args.test_identities,
                           "--images_per_identity=%d" % args.images_per_identity])
    for split, records, minimum in (("train", train_records, 2), ("test", test_records, 1)):
        run("make_tfrecords " + split, [python, "-m", "data_prep.make_tfrecords",
                                        "--input_dir=" + os.path.join(faces, split),
                                        "--landmarks=" + os.path.join(faces, "landmarks.txt"), "--template=56x48",
                                        "--output_dir=" + records, "--min_images_per_identity=%d" % minimum])
    boundary = int(args.pretrain_steps * 0.75)
    run("pretrain backbone", [python, "main.py", "--mode=pretrain", "--data_dir=" + train_records,
                              "--model_dir=" + pretrained, "--max_steps=%d" % args.pretrain_steps,
                              "--learning_rates=0.1,0.01", "--learning_rate_boundaries=%d" % boundary,
                              "--save_checkpoints_steps=%d" % args.pretrain_steps, "--log_every_n_steps=100"]
        + MODEL_FLAGS)
    run("train PFE head", [python, "main.py", "--mode=train", "--data_dir=" + train_records,
                           "--pretrained_ckpt=" + pretrained,
                           "--model_dir=" + pfe, "--max_steps=%d" % args.pfe_steps, "--learning_rates=0.001,0.0001",
                           "--learning_rate_boundaries=%d" % int(args.pfe_steps * 0.75),
                           "--save_checkpoints_steps=%d" % args.pfe_steps,
                           "--log_every_n_steps=100"] + MODEL_FLAGS)
    embeddings = os.path.join(work, "test_embeddings.npz")
    run("evaluate", [python, "main.py", "--mode=eval", "--model_dir=" + pfe, "--lfw_dir=" + test_records,
                     "--lfw_pairs=" + os.path.join(faces, "pairs.txt"), "--report_dir=" + report_dir,
                     "--embeddings_output=" + embeddings] + MODEL_FLAGS)
    correlation = degradation_correlation(faces, embeddings, report_dir)
    report_path = os.path.join(report_dir, "report.json")
    with open(report_path) as f:
        content = json.load(f)
    content["demo"] = dict(correlation, seconds=time.time() - start)
    atomic_files.write_json(report_path, content)
    lfw = content["lfw"]
    print("\n== demo result (%.0f s)" % (time.time() - start))
    print("held-out pairs: cosine %.2f%%, MLS %.2f%%" % (100 * lfw["cosine"]["accuracy_mean"],
                                                        100 * lfw["mls"]["accuracy_mean"]))
    print("Spearman(mean sigma^2, degradation severity) over %d test images: %.3f (%s)" % (
        correlation["images"], correlation["spearman_all"],
        ", ".join("%s %.3f" % kv for kv in sorted(correlation["by_kind"].items()))))
    print("report: %s" % report_path)


if __name__ == "__main__":
    main()
