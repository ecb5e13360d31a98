"""The held-out degradation protocols (scripts/held_out_quality.py): what a head trains on never holds the
kind or severity it is tested on, and each protocol runs end to end on a tiny real LFW."""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

import cv2
import numpy as np

from pfe_estimator import errors
from pfe_estimator.data import feature_cache
from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import pk_sampling
from pfe_estimator.evaluation import held_out
from pfe_estimator.evaluation import identity_folds
from pfe_estimator.evaluation import protocols
from pfe_estimator.inference import cache_builder
from pfe_estimator.model import backbones
from pfe_estimator.storage import model_config
from scripts import held_out_quality
from scripts import lfw_sface_pfe
from tests.conftest import ROOT, lfw_subset_records, shared_path
from tests.data_prep.test_cross_quality import tiny_lfw

SFACE = ("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")


def test_copies_are_named_after_their_kind_and_drawn_among_the_allowed_severities():
    face = np.full((112, 112, 3), 128, np.uint8)
    face[30:80, 30:80] = 40
    degrade = held_out_quality.training_degradation((1, 2))
    rng = np.random.RandomState(0)
    tags = [degrade(face, rng)[1] for _ in range(200)]
    kinds = {tag.rsplit("-", 1)[0] for tag in tags}
    assert kinds == set(held_out_quality.KINDS) and {tag.rsplit("-", 1)[1] for tag in tags} == {"1", "2"}
    name = cache_builder.degraded_copy_name("Ann/Ann_0001.jpg", 1, "motion_blur-2")
    assert name == "Ann/Ann_0001_q1_motion_blur-2.jpg" and held_out_quality.copy_kind(name) == "motion_blur"
    assert held_out_quality.copy_kind("Ann/Ann_0001.jpg") is None


def test_the_held_out_kind_never_reaches_the_training_subset(tmp_path):
    """A cache of 100 real faces, each with a tagged degraded copy: the subset without one kind keeps every
    original and every other copy, and no copy of that kind."""
    records, _, _ = lfw_subset_records(tmp_path, "112x112")
    cache = str(tmp_path / "cache")
    cache_builder.build_cache(records, cache, backbones.Backbone("onnx:" + shared_path(*SFACE)), batch_size=50,
                              degraded_copies=1, degrade=held_out_quality.training_degradation((1, 2, 3, 4)),
                              degradation="all kinds, severities 1-4", progress=False)
    names = feature_cache.read_cache_arrays(cache)[0]
    kinds = [held_out_quality.copy_kind(name + ".png") for name in names]
    held_out = max(set(k for k in kinds if k), key=kinds.count)  # the most frequent kind: a real exclusion
    subset = str(tmp_path / "subset")
    manifest = feature_cache.write_subset(cache, subset, lambda f: held_out_quality.copy_kind(f) != held_out,
                                          "without copies of %s" % held_out)
    kept = feature_cache.read_cache_arrays(subset)[0]
    kept_kinds = [held_out_quality.copy_kind(name + ".png") for name in kept]
    assert held_out not in kept_kinds and kept_kinds.count(None) == 100
    assert len(kept) == 200 - kinds.count(held_out) == manifest["num_images"]


def test_a_pooled_cache_derived_from_the_flattened_one_is_the_cache_sface_pools_itself(tmp_path):
    """--head_input=pooled without a second SFace run: the flattened cache averaged over SFace's map
    positions equals (float16 apart) the cache SFace writes with head_input pooled, and says so."""
    records, _, _ = lfw_subset_records(tmp_path, "112x112")
    flattened, fresh = str(tmp_path / "flattened"), str(tmp_path / "fresh")
    sface = shared_path(*SFACE)
    cache_builder.build_cache(records, flattened, backbones.Backbone("onnx:" + sface), batch_size=50, progress=False)
    cache_builder.build_cache(records, fresh, backbones.Backbone("onnx:" + sface, options={"head_input": "pooled"}),
                              batch_size=50, progress=False)
    args = argparse.Namespace(sface=sface, head_input="pooled", backbone_precision="fp32")
    derived = lfw_sface_pfe.head_cache(flattened, args)
    names, features, mu = feature_cache.read_cache_arrays(derived)
    fresh_names, fresh_features, fresh_mu = feature_cache.read_cache_arrays(fresh)
    assert names == fresh_names and features.shape == (100, 1024)
    np.testing.assert_array_equal(mu, fresh_mu)
    np.testing.assert_allclose(features, fresh_features, rtol=2e-3, atol=2e-3 * np.abs(fresh_features).max())
    assert model_config.from_cache_manifest(manifests.read(derived))["head_input"] == "pooled"
    args.head_input = "flattened"
    assert lfw_sface_pfe.head_cache(flattened, args) == flattened


def test_both_protocols_run_end_to_end_on_a_tiny_lfw(tmp_path):
    work = str(tmp_path / "work")
    result = subprocess.run([sys.executable, "-m", "scripts.held_out_quality", "--lfw_dir", tiny_lfw(tmp_path),
                             "--sface", shared_path(*SFACE), "--work_dir", work, "--steps", "3",
                             "--num_classes_per_batch", "4", "--images_per_class", "2", "--held_out", "defocus",
                             "--folds", "0,1,2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:]
    out = os.path.join(work, "held_out_report")
    reports = glob.glob(os.path.join(out, "leave_one_kind_out_c2_defocus_p4_pooled_k2_rk100.0_s3*.json"))
    # the copies, the kinds held out, the head arguments that differ from the released head's (at the defaults:
    # the quality-aware head, pooled with ranking weight 100), then SFace's precision, name the reports; all but
    # the kinds and copies name the heads
    assert len(reports) == 1
    tag = os.path.basename(reports[0])[len("leave_one_kind_out_c2_defocus"):-len(".json")]
    loko = json.load(open(os.path.join(out, "leave_one_kind_out_c2_defocus%s.json" % tag)))["leave_one_kind_out"]
    assert loko["held_out"] == ["defocus"] and loko["pooled"]["pairs"] == 6  # 3 folds x 2 pairs
    assert set(loko["cells"]) <= {"defocus-%d" % s for s in (1, 2, 3, 4)}
    assert set(loko["kinds"]) == {"defocus"} and loko["kinds"]["defocus"]["pairs"] == 6  # its severities pooled
    assert set(loko["pooled"]["difference"]) == {"mls", "normalised_cosine"}
    assert set(loko["targets"]) == {"spearman_at_least_0.75", "pooled_auc_gain_at_least_0.03",
                                    "no_cell_significantly_below_cosine"}
    room = loko["auc_headroom"]
    assert np.isclose(room["cosine_gap_to_1"], 1 - loko["pooled"]["cosine"]["auc"])
    assert loko["copies"] == 2 and loko["head_input"] == "pooled" and loko["quality_ranking"]["weight"] == 100
    unseen = json.load(open(os.path.join(out, "unseen_severities_c2%s.json" % tag)))["unseen_severities"]
    assert {cell.rsplit("-", 1)[1] for cell in unseen["cells"]} <= {"3", "4"}
    assert {cell.rsplit("-", 1)[0] for cell in unseen["cells"]} == set(unseen["kinds"])
    assert sum(part["pairs"] for part in unseen["kinds"].values()) == unseen["pooled"]["pairs"]
    precision = unseen["sface_precision"]["used"]  # auto: bf16 on CPUs with AVX512_BF16/AMX, else fp32
    assert unseen["sface_precision"]["why"].startswith("auto: ")
    assert tag == {"fp32": "_p4_pooled_k2_rk100.0_s3", "bf16": "_p4_pooled_k2_rk100.0_s3_bf16"}[precision]
    training = feature_cache.read_cache_arrays(os.path.join(work, "held_out", "train_2copies_s12_sface%s_cache" % (
        "" if precision == "fp32" else "_" + precision)))[0]
    severities = {name.rsplit("-", 1)[1] for name in training if held_out_quality.copy_kind(name + ".png")}
    assert severities == {"1", "2"}  # trained on the mild severities only
    for name in ("leave_one_kind_out_c2_defocus", "unseen_severities_c2"):
        assert os.path.getsize(os.path.join(out, "%s%s_auc_by_cell.png" % (name, tag))) > 5000
    assert os.path.isdir(os.path.join(work, "held_out", "unseen_severities_all_2c%s_fold_0" % tag))


def arguments(**values):
    defaults = dict(train_severities=None, copies=1, held_out=None, head_defaults={}, backbone_precision="fp32")
    return argparse.Namespace(**dict(defaults, **values))


def test_a_severity_mix_weights_severities_and_never_reaches_what_unseen_severities_tests():
    assert held_out_quality.training_severities(arguments(), "leave_one_kind_out") == (1, 2, 3, 4)
    mix = arguments(train_severities="2,3,4,4")
    assert held_out_quality.training_severities(mix, "leave_one_kind_out") == (2, 3, 4, 4)
    tags = [held_out_quality.training_degradation((2, 3, 4, 4))(np.full((112, 112, 3), 128, np.uint8),
                                                                np.random.RandomState(seed))[1] for seed in range(200)]
    counts = [sum(tag.endswith("-%d" % s) for tag in tags) for s in (1, 2, 3, 4)]
    assert counts[0] == 0 and counts[3] > counts[2] and counts[3] > counts[1]  # a repeat weights its severity
    for bad, words in (("1,2,3", "unseen_severities tests on"), ("2,5", "severities 1-4"), ("x", "severities 1-4")):
        try:
            held_out_quality.training_severities(arguments(train_severities=bad), "unseen_severities")
            raise AssertionError("--train_severities=%s was accepted" % bad)
        except ValueError as error:
            assert str(error).startswith("--train_severities=%s" % bad) and words in str(error)
    assert held_out_quality.training_severities(arguments(train_severities="1,2,2"), "unseen_severities") == (1, 2, 2)


def test_reports_of_other_copies_severities_or_held_out_kinds_never_share_a_name():
    tags = {held_out_quality.report_tag(arguments(**values), "leave_one_kind_out") for values in (
        {}, {"copies": 2}, {"train_severities": "2,3,4,4"}, {"held_out": "jpeg"}, {"held_out": "defocus,jpeg"},
        {"copies": 2, "held_out": "jpeg"})}
    assert len(tags) == 6 and "" in tags  # the defaults keep the names reports had before the flags
    assert held_out_quality.report_tag(arguments(held_out="jpeg,defocus"), "leave_one_kind_out") == "_defocus+jpeg"
    assert held_out_quality.report_tag(arguments(held_out="jpeg"), "unseen_severities") == ""  # it holds none out


def test_the_headroom_says_when_a_gain_target_is_larger_than_what_cosine_leaves():
    def report(cosine_auc, gain):
        return {"pooled": {"cosine": {"auc": cosine_auc}, "difference": {
            name: {"auc": {"difference": gain}} for name in ("mls", "normalised_cosine")}}}
    room = held_out.auc_headroom(report(0.98, 0.01))
    assert np.isclose(room["cosine_gap_to_1"], 0.02) and not room["gain_target_reachable"]
    assert np.isclose(room["share_closed"]["mls"], 0.5)
    assert held_out.auc_headroom(report(0.80, 0.045))["gain_target_reachable"]


def test_flags_that_name_no_kind_severity_or_protocol_are_refused_in_one_line_before_any_work(tmp_path):
    work = tmp_path / "work"
    for flags, words in ((["--held_out", "blurr"], "--held_out: blurr is not one of"),
                         (["--protocols", "unseen"], "--protocols: unseen is not one of"),
                         (["--train_severities", "3,4"], "--train_severities=3,4 holds 3,4")):
        result = subprocess.run([sys.executable, "-m", "scripts.held_out_quality", "--lfw_dir", str(tmp_path),
                                 "--sface", "sface.onnx", "--work_dir", str(work)] + flags, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        assert result.returncode == 2 and words in result.stdout.strip().splitlines()[-1], result.stdout
        assert "Traceback" not in result.stdout
    assert not work.exists()


def test_a_report_folder_that_is_not_the_scripts_own_is_refused_and_kept(tmp_path):
    work = tmp_path / "work"
    (work / "held_out_report").mkdir(parents=True)
    (work / "held_out_report" / "notes.txt").write_text("mine")
    result = subprocess.run([sys.executable, "-m", "scripts.held_out_quality", "--lfw_dir", str(tmp_path / "lfw"),
                             "--sface", shared_path(*SFACE), "--work_dir", str(work)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
    assert result.returncode == 1 and "held_out_report" in result.stdout.strip().splitlines()[-1], result.stdout
    assert sorted(os.listdir(str(work))) == ["held_out_report"]
    assert (work / "held_out_report" / "notes.txt").read_text() == "mine"


def test_a_work_dir_inside_the_lfw_folder_is_refused_before_any_work(tmp_path):
    lfw = tiny_lfw(tmp_path)
    before = sorted(os.listdir(lfw))
    for module, flag in (("scripts.held_out_quality", "--work_dir"), ("scripts.build_reference_model",
                                                                      "--output_dir")):
        result = subprocess.run([sys.executable, "-m", module, "--lfw_dir", lfw, "--sface", shared_path(*SFACE),
                                 flag, os.path.join(lfw, "images", "mine")], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        assert result.returncode == 1 and "lies inside --lfw_dir=%s" % lfw in result.stdout.strip().splitlines()[-1]
    assert sorted(os.listdir(lfw)) == before and not os.path.exists(os.path.join(lfw, "images", "mine"))


def test_heads_on_degraded_copies_default_to_the_quality_aware_head_and_are_named_as_if_it_were_given():
    """The LFW scripts' head families: heads on degraded copies default to QUALITY_AWARE_HEAD (pooled, ranking
    weight 100) and are named as those flags name them; heads on clean faces keep the released head and never
    rank, so the ranking flag neither reaches nor renames them."""
    parser = argparse.ArgumentParser()
    lfw_sface_pfe.protocol_arguments(parser, steps=400)

    def heads(flags, quality_aware):
        return lfw_sface_pfe.head_settings(parser.parse_args(
            ["--lfw_dir", "L", "--sface", "S", "--backbone_precision", "fp32"] + flags), quality_aware)
    quality = heads([], True)
    assert (quality.head_input, quality.quality_ranking_weight) == ("pooled", 100.0)
    assert lfw_sface_pfe.head_recipe(quality).quality_ranking_weight == 100.0
    given = heads(["--head_input", "pooled", "--quality_ranking_weight", "100"], True)
    assert lfw_sface_pfe.head_suffix(quality) == lfw_sface_pfe.head_suffix(given) == "_pooled_rk100.0"
    released = heads(["--head_input", "flattened", "--quality_ranking_weight", "0"], True)
    assert lfw_sface_pfe.head_suffix(released) == "" and lfw_sface_pfe.head_recipe(released).quality_ranking_weight == 0
    plain = heads([], False)
    assert (plain.head_input, plain.quality_ranking_weight) == ("flattened", 0.0)
    assert lfw_sface_pfe.head_suffix(plain) == ""
    ranked = heads(["--head_input", "pooled", "--quality_ranking_weight", "100", "--quality_ranking_margin", "1"],
                   False)
    assert (ranked.head_input, ranked.quality_ranking_weight, ranked.quality_ranking_margin) == ("pooled", 0.0, 0.1)
    assert lfw_sface_pfe.head_suffix(ranked) == "_pooled"
    parsed = parser.parse_args(["--lfw_dir", "L", "--sface", "S"])
    lfw_sface_pfe.head_settings(parsed, True)
    assert parsed.head_input is None and parsed.quality_ranking_weight is None  # the parsed flags are left alone


def test_a_work_dir_aligned_from_other_photos_is_one_line_naming_it_and_is_kept(tmp_path):
    """The LFW scripts reuse --work_dir's aligned records only when they were made from the photos, landmarks
    and settings --lfw_dir gives now: after a photo changed, each script stops with one `error:` line naming
    --work_dir and the records folder (no traceback), and every file under --work_dir stays as it was (a script
    claims its empty report folder first, so a foreign one is refused before any work)."""
    lfw = tiny_lfw(tmp_path)
    work = str(tmp_path / "work")
    args = argparse.Namespace(work_dir=work, sface=shared_path(*SFACE), backbone_precision="fp32", head_input=None)
    lfw_sface_pfe.aligned_cache(os.path.join(lfw, "images"), os.path.join(lfw, "ldmark_lfw_mtcnncaffe.txt"), "lfw",
                                args)
    photo = glob.glob(os.path.join(lfw, "images", "*", "*.jpg"))[0]
    os.chmod(photo, 0o644)  # copied from the read-only shared folder
    assert cv2.imwrite(photo, cv2.GaussianBlur(cv2.imread(photo), (5, 5), 0))  # other bytes, records refused

    def state():
        return sorted((os.path.relpath(os.path.join(d, f), work), os.path.getmtime(os.path.join(d, f)))
                      for d, _, files in os.walk(work) for f in files)
    before = state()
    for module, extra in (("scripts.held_out_quality", []), ("scripts.lfw_sface_pfe", []),
                          ("scripts.build_reference_model", ["--output_dir", str(tmp_path / "reference")])):
        result = subprocess.run([sys.executable, "-m", module, "--lfw_dir", lfw, "--sface", shared_path(*SFACE),
                                 "--work_dir", work, "--backbone_precision", "fp32"] + extra, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=300)
        last = result.stdout.strip().splitlines()[-1]
        assert result.returncode == 1 and "Traceback" not in result.stdout, (module, result.stdout[-3000:])
        assert last.startswith("error: --work_dir=%s" % work) and "lfw_112x112" in last and "images" in last, last
        after = state()
        assert set(before) <= set(after), module  # everything under --work_dir as it was
        assert {os.path.dirname(path) for path, _ in set(after) - set(before)} <= {"report", "held_out_report"}


def test_every_fold_trains_on_other_peoples_identities_and_a_share_draws_nested_subsets_of_them():
    """On the real people.txt and pairs.txt: a fold's head never trains on a person of its own pairs, only on
    people with 2 images or more; --identity_share keeps that share of them per fold, a smaller share a
    subset of a larger one's, the same on every call, and the heads and reports are named after it."""
    lfw = shared_path("data", "lfw")
    pairs = protocols.read_lfw_pairs(os.path.join(lfw, "pairs.txt"))
    people_folds = protocols.read_people_folds(os.path.join(lfw, "people.txt"))
    people = sorted(p for p in os.listdir(os.path.join(lfw, "images")) if os.path.isdir(os.path.join(lfw, "images", p)))
    manifest = {"identities": [{"name": p, "label": i, "images": len(os.listdir(os.path.join(lfw, "images", p)))}
                               for i, p in enumerate(people)]}
    images_of = {i["label"]: i["images"] for i in manifest["identities"]}
    everyone = identity_folds.fold_training_labels(pairs, people_folds, manifest)
    half = identity_folds.fold_training_labels(pairs, people_folds, manifest, 0.5)
    quarter = identity_folds.fold_training_labels(pairs, people_folds, manifest, 0.25)
    for k in range(10):
        test_people = {protocols.person_of(n) for n in np.concatenate([pairs.first[pairs.fold == k],
                                                                           pairs.second[pairs.fold == k]])}
        assert not {people[label] for label in everyone[k]} & test_people
        assert len(everyone[k]) > 1000 and min(images_of[label] for label in everyone[k]) >= 2
        assert len(half[k]) == round(0.5 * len(everyone[k])) and set(half[k]) < set(everyone[k])
        assert len(quarter[k]) == round(0.25 * len(everyone[k])) and set(quarter[k]) < set(half[k])
    assert half == identity_folds.fold_training_labels(pairs, people_folds, manifest, 0.5)
    assert half[0] != half[1][:len(half[0])]  # drawn per fold, not one list cut
    parser = argparse.ArgumentParser()
    lfw_sface_pfe.protocol_arguments(parser, steps=400)
    settings = lfw_sface_pfe.head_settings(parser.parse_args(
        ["--lfw_dir", "L", "--sface", "S", "--backbone_precision", "fp32", "--identity_share", "0.25"]), True)
    assert lfw_sface_pfe.head_suffix(settings) == "_pooled_id0.25_rk100.0"
    assert held_out_quality.report_tag(arguments(head_defaults={"identity_share": 1.0}, identity_share=0.25),
                                       "unseen_severities") == "_id0.25"


def test_an_identity_share_outside_0_to_1_is_refused_in_one_line_before_any_work(tmp_path):
    work = tmp_path / "work"
    for value in ("0", "1.5", "half"):
        result = subprocess.run([sys.executable, "-m", "scripts.held_out_quality", "--lfw_dir", str(tmp_path),
                                 "--sface", "sface.onnx", "--work_dir", str(work), "--identity_share", value],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                timeout=300)
        last = result.stdout.strip().splitlines()[-1]
        assert result.returncode == 2 and "--identity_share" in last and "(0, 1]" in last, result.stdout
        assert "Traceback" not in result.stdout
    assert not work.exists()


def test_a_batch_of_more_identities_than_the_heads_train_on_is_refused_naming_a_flag_the_scripts_take(tmp_path):
    """Too few training identities for a batch (a small --identity_share, a small data set) is one line naming
    the flag that sets P: the LFW scripts take main.py's name for it, and it sets their heads' batches."""
    records, _, _ = lfw_subset_records(tmp_path, "112x112")  # 10 identities
    try:
        pk_sampling.check_training_data(records, manifests.read(records), 32)
        raise AssertionError("a batch of 32 identities was accepted on 10")
    except errors.UserError as error:
        flag = re.search(r"\((--\w+)\)", str(error)).group(1)
    parser = argparse.ArgumentParser()
    lfw_sface_pfe.protocol_arguments(parser, steps=400)
    parsed = parser.parse_args(["--lfw_dir", "L", "--sface", "S", flag, "8"])
    assert lfw_sface_pfe.head_recipe(parsed).num_classes_per_batch == 8
