"""data_prep/lfw_splits.py on LFW's real protocol files: identity-disjoint parts, pairs files in LFW's format
that the protocol reader takes, and a share of folds refused in one line."""
import os

from pfe_estimator.data import pair_files
from tests.conftest import run_tool, shared_path
from tests.data_prep.test_cross_quality import tiny_lfw


def test_the_splits_share_no_person_and_keep_pairs_txts_lines(tmp_path):
    lfw = shared_path("data", "lfw")
    output = str(tmp_path / "splits")
    result = run_tool("data_prep.lfw_splits", "--lfw_dir", lfw, "--output_dir", output, "--train_folds", "3,4",
                      "--test_folds", "1,2", "--calibration_folds", "10")
    assert result.returncode == 0, result.stdout[-2000:]
    people = {name: set(open(os.path.join(output, name + "_people.txt")).read().split())
              for name in ("train", "test", "calibration")}
    folds = pair_files.read_people_folds(os.path.join(lfw, "people.txt"))
    assert people["test"] == folds[0] | folds[1] and people["calibration"] == folds[9]
    assert people["train"] < folds[2] | folds[3] and all(
        len(os.listdir(os.path.join(lfw, "images", person))) >= 2 for person in people["train"])
    test = pair_files.read_lfw_pairs(os.path.join(output, "test_pairs.txt"))
    everything = pair_files.read_lfw_pairs(os.path.join(lfw, "pairs.txt"))
    assert list(test.first) == list(everything.first[everything.fold < 2]) and set(test.fold) == {0, 1}
    assert {pair_files.person_of(n) for n in list(test.first) + list(test.second)} <= people["test"]
    calibration = pair_files.read_lfw_pairs(os.path.join(output, "calibration_pairs.txt"))
    assert list(calibration.second) == list(everything.second[everything.fold == 9])

    refused = run_tool("data_prep.lfw_splits", "--lfw_dir", lfw, "--output_dir", str(tmp_path / "other"),
                       "--train_folds", "1,3", "--test_folds", "1,2")
    assert refused.returncode == 1 and refused.stdout.strip().splitlines()[-1] == (
        "error: --train_folds, --test_folds and --calibration_folds share a fold; give each fold to one part")
    assert not os.path.exists(str(tmp_path / "other"))


def test_an_output_that_is_or_lies_inside_the_lfw_folder_is_refused_even_with_overwrite(tmp_path):
    lfw = tiny_lfw(tmp_path)  # a copy: the refusal is tested on files that may be lost if it ever fails
    before = sorted(os.listdir(lfw))
    for output in (lfw, os.path.join(lfw, "splits")):
        inside = run_tool("data_prep.lfw_splits", "--lfw_dir", lfw, "--output_dir", output, "--overwrite")
        assert inside.returncode == 1 and "--lfw_dir=" in inside.stdout.strip().splitlines()[-1], inside.stdout[-500:]
    assert sorted(os.listdir(lfw)) == before
