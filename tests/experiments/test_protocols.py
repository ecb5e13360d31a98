"""The protocols end to end on a tiny real LFW (10 folds of 2 people x 4 images; CI runs them only at this
size), and what they keep in the work folder: every artefact keyed by what made it, so another model file,
seed or configuration into the same work folder never reuses or replaces what the first made."""
import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import onnx

from tests.conftest import ROOT, shared_path
from tests.data_prep.test_cross_quality import tiny_lfw

SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")
YUNET = ("models", "yunet", "face_detection_yunet_2023mar_int8bq.onnx")
TINY_HEAD = ["--set", "protocol.head.recipe.max_steps=2", "--set", "protocol.head.recipe.num_classes_per_batch=4",
             "--set", "protocol.head.recipe.images_per_class=2", "--set", "backbone_precision=fp32"]


def run_experiment(config, lfw, work, *extra, sface=None):
    return subprocess.run([sys.executable, "-m", "scripts.run_experiment", "configs/%s.py" % config, "--lfw_dir", lfw,
                           "--sface", sface or shared_path(*SFACE), "--work_dir", work] + TINY_HEAD + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                          timeout=900)


def last_line(result):
    return result.stdout.strip().splitlines()[-1]


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def made_by_the_model(work):
    """The onnx_sha256 of every cache the model made and of every head's record."""
    caches = [json.load(open(os.path.join(work, "caches", name, "manifest.json")))["fingerprint"]
              for name in os.listdir(os.path.join(work, "caches"))]
    records = [json.load(open(os.path.join(work, "heads", name, "pfe_config.json")))
               for name in os.listdir(os.path.join(work, "heads"))]
    return {c["onnx_sha256"] for c in caches if "onnx_sha256" in c}, {r["onnx_sha256"] for r in records}


def copy_parts(work):
    """{store folder: its parts} of the work folder's copy store (experiments/copy_store.py)."""
    root = os.path.join(work, "copies")
    return {store: {part for part in os.listdir(os.path.join(root, store)) if part.startswith("part-")}
            for store in os.listdir(root)}


def copies_line(result):
    """(run, reused) of every 'degraded copies: N to run through SFace, M reused' line of a run's output."""
    return [(int(line.split()[2]), int(line.split(", ")[1].split()[0])) for line in result.stdout.splitlines()
            if line.startswith("degraded copies: ")]


def test_the_held_out_protocols_run_end_to_end_and_nothing_another_configuration_made_is_reused(tmp_path):
    lfw, work = tiny_lfw(tmp_path), str(tmp_path / "work")
    first = run_experiment("held_out_quality_aware", lfw, work, "--set", "protocol.folds=0,1,2", "--set",
                           "protocol.held_out_kinds=defocus")
    assert first.returncode == 0, first.stdout[-4000:]
    report_path = os.path.join(work, "reports", "held_out_quality_aware", "report.json")
    report = json.load(open(report_path))
    loko, unseen = (report["held_out"][name] for name in ("leave_one_kind_out", "unseen_severities"))
    protocol = report["experiment"]["protocol"]
    assert protocol["kind"] == "held_out" and protocol["head"]["input"] == "pooled" and protocol["test_seed"] == 0
    assert report["command"].startswith("python -m scripts.run_experiment configs/held_out_quality_aware.py --lfw_dir ")
    assert "--set protocol.folds=0,1,2" in report["command"]
    assert loko["held_out"] == ["defocus"] and loko["pooled"]["pairs"] == 6  # 3 folds x 2 pairs
    assert set(loko["cells"]) <= {"defocus-%d" % s for s in (1, 2, 3, 4)} and set(loko["kinds"]) == {"defocus"}
    assert set(loko["pooled"]["difference"]) == {"mls", "normalised_cosine"}
    assert set(loko["targets"]) == {"spearman_at_least_0.75", "pooled_auc_gain_at_least_0.03",
                                    "no_cell_significantly_below_cosine"}
    assert loko["copies"] == 2 and loko["head_input"] == "pooled" and loko["quality_ranking"]["weight"] == 100
    assert {cell.rsplit("-", 1)[1] for cell in unseen["cells"]} <= {"3", "4"}
    assert sum(part["pairs"] for part in unseen["kinds"].values()) == unseen["pooled"]["pairs"]
    assert unseen["train_severities"] == [1, 2] and unseen["sface_precision"]["used"] == "fp32"
    for name in ("leave_one_kind_out", "unseen_severities"):
        assert os.path.getsize(os.path.join(work, "reports", "held_out_quality_aware",
                                            name + "_auc_by_cell.png")) > 5000
    heads = os.listdir(os.path.join(work, "heads"))
    assert len(heads) == 6 and all(json.load(open(os.path.join(work, "heads", h, "pfe_config.json")))["trained_on"]
                                   for h in heads)  # each head's record says what it trained on
    content = open(report_path, "rb").read()

    # another model file (the same network, other bytes) into the same work folder: its own caches and heads
    other_model = str(tmp_path / "sface_other_bytes.onnx")
    model = onnx.load(shared_path(*SFACE))
    model.doc_string = "a copy with other bytes"
    onnx.save(model, other_model)
    unseen_only = ["--set", "protocol.folds=0,1", "--set", "protocol.schemes=unseen_severities"]
    other = run_experiment("held_out_quality_aware", lfw, work, "--name", "other_model", *unseen_only,
                           sface=other_model)
    assert other.returncode == 0, other.stdout[-3000:]
    both = {sha256(shared_path(*SFACE)), sha256(other_model)}
    assert made_by_the_model(work) == (both, both)
    assert len(copy_parts(work)) == 2  # the other file's copies in a store of its own
    # another seed, or another model, under the first run's name: refused in one line, its report kept
    for extra, model, words in (([], other_model, "changed: sface_sha256"),
                                (["--set", "protocol.test_seed=1"], None,
                                 "changed: experiment.protocol.test_seed 0 -> 1")):
        refused = run_experiment("held_out_quality_aware", lfw, work, "--set", "protocol.folds=0,1,2", "--set",
                                 "protocol.held_out_kinds=defocus", *extra, sface=model)
        assert refused.returncode == 1 and last_line(refused).startswith("error: ") and words in last_line(refused)
        assert "another --name" in last_line(refused)
    assert open(report_path, "rb").read() == content
    parts = copy_parts(work)
    reseeded = run_experiment("held_out_quality_aware", lfw, work, "--name", "seed_1", "--set",
                              "protocol.test_seed=1", *unseen_only)
    assert reseeded.returncode == 0, reseeded.stdout[-3000:]
    grown = {store: names - parts[store] for store, names in copy_parts(work).items()}
    assert sorted(len(new) for new in grown.values()) == [0, 1]  # its own degraded test sides: other draws
    (made, reused), = copies_line(reseeded)
    assert made > 0 and reused == 0
    reseeded_report = json.load(open(os.path.join(work, "reports", "seed_1", "report.json")))
    assert reseeded_report["experiment"]["protocol"]["test_seed"] == 1
    check_all_pairs(lfw, work)  # in the same work folder: the held-out protocol's training cache is reused


def check_all_pairs(lfw, work):
    """Every pair within each test fold, clean and cross-quality, decided by every score with thresholds fitted on
    the next fold's pairs and on a gallery of one photo per person of it (the tiny folds hold 48 impostors: a FAR
    of 0.25 at most; the gallery's 3 decide nothing, and the report says so rather than deciding)."""
    parts_before = copy_parts(work)
    settings = ["--set", "protocol.plain_head.recipe.max_steps=2", "--set",
                "protocol.plain_head.recipe.num_classes_per_batch=4", "--set",
                "protocol.plain_head.recipe.images_per_class=2", "--set", "protocol.folds=0,1,2", "--set",
                "protocol.held_out_kinds=defocus", "--set", "protocol.schemes=leave_one_kind_out", "--set",
                "protocol.fars=0.25,0.5"]
    result = run_experiment("all_pairs_quality_aware", lfw, work, *settings)
    assert result.returncode == 0, result.stdout[-4000:]
    report_dir = os.path.join(work, "reports", "all_pairs_quality_aware")
    part = json.load(open(os.path.join(report_dir, "report.json")))["all_pairs"]["leave_one_kind_out"]
    # 3 test folds of 8 images: 28 clean pairs and 8 x 7 clean-against-copy pairs each
    assert part["folds"] == [0, 1, 2] and part["pairs"] == 3 * (28 + 56) and part["cross_quality_pairs"] == 3 * 56
    calibrations = part["calibrations"]
    assert [(c["fold"], c["calibration_fold"]) for c in calibrations] == [(0, 1), (1, 2), (2, 3)]
    for fold in calibrations:
        labelled, gallery = fold["sources"]["calibration"], fold["sources"]["gallery"]
        assert labelled["population"]["pairs"] == 84 and labelled["population"]["impostors"] == 48
        assert gallery["population"]["genuine"] is None and gallery["population"]["impostors"] == 3
        assert labelled["fars"] == [0.25, 0.5] and labelled["model"]["checkpoint_sha256"]
        assert labelled["scores"]["cosine"]["thresholds"]["0.25"]["impostors"] == 48  # 48 >= 10 / 0.25
    decided = part["decisions"]["calibration"]["scores"]
    assert set(decided) == {"logistic_or_cosine", "quality_thresholds", "monotone_logistic", "logistic", "mls",
                            "cosine"}
    assert set(decided["cosine"]) == {"0.25", "0.5"} and part["decisions"]["gallery"]["scores"]["cosine"] == {}
    rates = decided["cosine"]["0.25"]["rates"]
    assert rates["pooled_cross_quality"]["impostors"] == 3 * 32 and rates["clean"]["impostors"] == 3 * 16
    assert set(rates["folds"]) == {"0", "1", "2"}
    assert sum(rates["folds"][k]["cross_quality"]["false_matches"] for k in rates["folds"]) == \
        rates["pooled_cross_quality"]["false_matches"]
    assert set(part["edc"]["measures"]) == {"sigma_sq_quality_aware", "sigma_sq_plain", "embedding_norm",
                                            "sharpness", "random"}
    assert set(part["lfw_accuracy"]) >= {"cosine", "logistic_or_cosine"}
    # one test and one calibration copy of the 4 folds' images, nothing for folds 4-9
    assert [made + reused for made, reused in copies_line(result)] == [4 * 8, 4 * 8]
    store, = [store for store, names in copy_parts(work).items() if names - parts_before.get(store, set())]
    for part in copy_parts(work)[store] - parts_before[store]:
        keys, mu = (np.load(os.path.join(work, "copies", store, part, name + ".npy")) for name in ("keys", "mu"))
        assert len(mu) == len(set(keys)) <= 4 * 8
    again = run_experiment("all_pairs_quality_aware", lfw, work, "--name", "all_pairs_again", *settings)
    assert again.returncode == 0, again.stdout[-4000:]
    assert copies_line(again) == [(0, 4 * 8), (0, 4 * 8)]  # another report of the same draws: every copy read
    assert os.path.getsize(os.path.join(report_dir, "leave_one_kind_out_calibration_fmr_by_stratum.png")) > 5000
