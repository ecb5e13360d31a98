"""Fault injection, second probe: an output never replaces what its own run reads, every user error is one
line (errors TensorFlow raises on the user's data included), nothing is silently mixed.

Each case runs the real command, asserts a non-zero exit with one line naming the file, flag or value, and
that what was there before is byte-identical afterwards.
"""
import os
import shutil

from tests.conftest import RECORD_FLAGS, run_tool, shared_path, subset_pairs
from tests.test_main import run_main
from tests.test_reliability import copy_of, error_line, tree_digest


def subset_people():
    return sorted(os.listdir(shared_path("data", "lfw_raw250_subset")))


# ---------------------------------------------------------------- --overwrite never deletes the run's inputs


def test_eval_report_into_its_own_model_dir_is_refused_even_with_overwrite(work, tmp_path):
    model_dir = copy_of(work["record_model"], tmp_path, "model")
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    before = tree_digest(model_dir)
    result = run_main("--mode=eval", "--model_dir=" + model_dir, "--lfw_dir=" + work["records"],
                      "--lfw_pairs=" + pairs, "--report_dir=" + model_dir, "--overwrite", *RECORD_FLAGS)
    line = error_line(result)
    assert "--report_dir=%s is --model_dir=%s, which this run reads" % (model_dir, model_dir) in line
    assert "--overwrite included" in line
    assert tree_digest(model_dir) == before


def test_eval_report_into_the_records_it_reads_is_refused_even_with_overwrite(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), subset_people())
    before = tree_digest(records)
    result = run_main("--mode=eval", "--model_dir=" + work["record_model"], "--lfw_dir=" + records,
                      "--lfw_pairs=" + pairs, "--report_dir=" + records, "--overwrite", *RECORD_FLAGS)
    line = error_line(result)
    assert "--report_dir=%s is --lfw_dir=%s, which this run reads (a tfrecords output" % (records, records) in line
    assert tree_digest(records) == before


def test_cache_into_the_pretrained_checkpoint_folder_is_refused_even_with_overwrite(work, tmp_path):
    pretrained = copy_of(work["record_model"], tmp_path, "pretrained")
    before = tree_digest(pretrained)
    result = run_main("--mode=cache_features", "--data_dir=" + work["records"], "--cache_dir=" + pretrained,
                      "--pretrained_ckpt=" + pretrained, "--overwrite", *RECORD_FLAGS)
    line = error_line(result)
    assert "--cache_dir=%s is --pretrained_ckpt=%s, which this run reads (a training model folder" % (
        pretrained, pretrained) in line
    assert tree_digest(pretrained) == before


def test_make_tfrecords_into_the_folder_of_its_landmarks_is_refused_even_with_overwrite(tmp_path):
    folder = tmp_path / "annotations"
    folder.mkdir()
    landmarks = str(folder / "landmarks.txt")
    shutil.copy(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"), landmarks)
    before = tree_digest(str(folder))
    result = run_tool("data_prep.make_tfrecords", "--input_dir=" + shared_path("data", "lfw_raw250_subset"),
                      "--landmarks=" + landmarks, "--template=56x48", "--output_dir=" + str(folder),
                      "--num_workers=1", "--overwrite")
    line = error_line(result)
    assert "--output_dir=%s holds --landmarks=%s, which this run reads (a file)" % (folder, landmarks) in line
    assert tree_digest(str(folder)) == before


def test_overwrite_never_replaces_a_model_folder_that_is_no_input(work, tmp_path):
    model_dir = copy_of(work["model"], tmp_path, "other_model")
    before = tree_digest(model_dir)
    result = run_main("--mode=export", "--model_dir=" + work["model"], "--export_dir=" + model_dir, "--overwrite")
    assert error_line(result).endswith("--export_dir=%s holds a training model folder (checkpoints); --overwrite "
                                       "never replaces one: choose another folder" % model_dir)
    assert tree_digest(model_dir) == before


def test_training_into_its_own_data_dir_is_refused(work, tmp_path):
    records = copy_of(work["records"], tmp_path, "records")
    before = tree_digest(records)
    result = run_main("--mode=train", "--data_dir=" + records, "--model_dir=" + records, "--max_steps=1",
                      *RECORD_FLAGS)
    assert "--model_dir=%s is --data_dir=%s, which this run reads" % (records, records) in error_line(result)
    assert tree_digest(records) == before
