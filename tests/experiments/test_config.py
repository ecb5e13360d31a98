"""An experiment is a value and a file: every config under configs/ loads, checks and names its run; the
command line's --set changes a field by its type; a value no run can use is one line naming the field."""
import glob
import os

import pytest

from pfe_estimator import errors
from pfe_estimator.evaluation import held_out
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import run
from pfe_estimator.experiments import work_folder
from pfe_estimator.faces import kinds
from tests.conftest import ROOT


def config_files():
    return sorted(path for path in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                  if os.path.basename(path) not in ("__init__.py", "base.py"))


def test_every_config_file_loads_checks_and_carries_its_command_and_figures():
    files = config_files()
    assert len(files) >= 5
    for path in files:
        config = experiment_config.load(path)
        experiment_config.check(config)
        name = os.path.splitext(os.path.basename(path))[0]
        text = open(path, encoding="utf-8").read()
        assert config.name == name
        assert "python -m scripts.run_experiment configs/%s.py" % name in text, name  # its command
        assert "Measured" in text and " s" in text, name  # its run time and figures
        assert 10 <= len(text.splitlines()) <= 30, name


def test_the_heads_are_the_released_one_and_the_measured_quality_aware_one():
    released, quality = experiment_config.RELEASED_HEAD, experiment_config.QUALITY_AWARE_HEAD
    assert (released.input, released.ranking_weight, released.copies) == ("flattened", 0.0, 0)
    assert (quality.input, quality.ranking_weight, quality.copies) == ("pooled", 100.0, 2)
    recipe = quality.recipe()  # the published schedule: the drop at int(2/3) of the steps (266 of 400)
    assert recipe.boundaries() == [266] and recipe.learning_rates == (1e-3, 1e-4)
    assert (recipe.num_classes_per_batch, recipe.images_per_class, recipe.quality_ranking_weight) == (32, 4, 100.0)


def test_set_parses_each_field_by_its_type_and_names_what_it_cannot_parse():
    config = experiment_config.load(os.path.join(ROOT, "configs", "held_out_quality_aware.py"))
    changed = experiment_config.override(config, ["head.steps=3", "folds=0,1", "held_out_kinds=defocus",
                                                  "cross_quality=true", "head.train_severities=1,2,2",
                                                  "head.learning_rate=0.01", "quality_aware_head=none"])
    assert changed.head.steps == 3 and changed.folds == (0, 1) and changed.held_out_kinds == ("defocus",)
    assert changed.cross_quality is True and changed.head.train_severities == (1, 2, 2)
    assert changed.head.learning_rate == 0.01 and changed.quality_aware_head is None
    assert changed.head.input == "pooled" and changed.name == config.name  # the rest as it was
    for assignment, words in (("head.stpes=3", "no field stpes"), ("head.steps=three", "expected a int"),
                              ("folds=a", "comma-separated ints"), ("steps", "expected FIELD=VALUE"),
                              ("quality_aware_head.steps=3", "not a head"), ("name=x", "no field name")):
        with pytest.raises(errors.UserError, match="--set %s" % assignment.split("=")[0]) as error:
            experiment_config.override(config, [assignment])
        assert words in str(error.value)


@pytest.mark.parametrize("assignment, words", [
    ("head.steps=0", "head.steps=0: expected a positive integer"),
    ("head.steps=-5", "head.steps=-5: expected a positive integer"),
    ("head.classes_per_batch=0", "head.classes_per_batch=0"),
    ("head.images_per_class=1", "MLS compares images of one identity"),
    ("head.learning_rate=nan", "head.learning_rate=nan: expected a positive number"),
    ("head.copies=0", "head.copies=0: the held_out protocol trains its heads on degraded copies"),
    ("head.copies=-1", "head.copies=-1: the held_out protocol"),
    ("head.identity_share=1.5", "(0, 1]"),
    ("head.identity_share=0", "(0, 1]"),
    ("head.train_severities=3,4", "holds 3,4, which unseen_severities tests on"),
    ("head.train_severities=2,5", "give severities 1-4"),
    ("folds=10", "folds=10: expected distinct people.txt folds among 0..9"),
    ("folds=-1", "folds=-1"),
    ("folds=0,0", "folds=0,0"),
    ("held_out_kinds=blurr", "held_out_kinds: blurr is not one of"),
    ("held_out_protocols=unseen", "held_out_protocols=unseen: expected some of"),
    ("protocol=blufr", "protocol=blufr: expected one of"),
    ("backbone_precision=fp16", "backbone_precision=fp16"),
])
def test_a_value_no_run_can_use_is_one_line_naming_the_field(assignment, words):
    config = experiment_config.override(experiment_config.load(os.path.join(ROOT, "configs",
                                                                            "held_out_quality_aware.py")),
                                        [assignment])
    with pytest.raises(errors.UserError) as error:
        experiment_config.check(config)
    assert str(error.value).startswith("held_out_quality_aware: ") and words in str(error.value)
    assert "\n" not in str(error.value)


def test_a_run_is_refused_before_any_work_when_its_outputs_lie_inside_its_inputs(tmp_path):
    lfw = tmp_path / "lfw"
    (lfw / "images").mkdir(parents=True)
    sface = tmp_path / "sface.onnx"
    sface.write_bytes(b"x")
    config = experiment_config.load(os.path.join(ROOT, "configs", "held_out_quality_aware.py"))
    for work, output in ((str(lfw / "run"), None), (str(tmp_path / "work"), str(lfw / "images" / "mine")),
                         (str(tmp_path / "work"), str(tmp_path / "work" / "reference"))):
        with pytest.raises(errors.UserError, match="lies inside|holds"):
            run.run(config, lfw_data.Inputs(str(lfw), str(sface), work, output))
    assert os.listdir(str(lfw)) == ["images"] and not os.path.exists(str(tmp_path / "work"))


def test_a_report_folder_holding_anything_else_is_refused_and_kept(tmp_path):
    folder = tmp_path / "work" / "reports" / "mine"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("keep")
    with pytest.raises(errors.UserError, match="a folder of files this pipeline did not write"):
        work_folder.report_folder(str(tmp_path / "work"), "mine", {"experiment": {}})
    assert os.listdir(str(folder)) == ["notes.txt"]
    key = {"experiment": {"seed": 0}}
    first = work_folder.report_folder(str(tmp_path / "work"), "other", key)
    assert first[1] == "new" and work_folder.report_folder(str(tmp_path / "work"), "other", key) == (
        first[0], "resume")  # the same configuration's report


def test_a_refused_report_names_the_field_that_changed():
    assert work_folder.flat({"experiment": {"head": {"steps": 3}, "seed": 0}, "sface_sha256": "a"}) == {
        "experiment.head.steps": 3, "experiment.seed": 0, "sface_sha256": "a"}


def test_every_artefact_name_changes_with_anything_in_its_key():
    key = {"records": "r", "sface": {"sha256": "a", "precision": "fp32"}, "copies": 2, "seed": 0}
    base = work_folder.path("w", "caches", "clean", key)
    for changed in ({"sface": {"sha256": "b", "precision": "fp32"}}, {"sface": {"sha256": "a", "precision": "bf16"}},
                    {"copies": 1}, {"seed": 1}, {"records": "s"}):
        assert work_folder.path("w", "caches", "clean", dict(key, **changed)) != base
    assert work_folder.path("w", "caches", "clean", dict(reversed(list(key.items())))) == base  # order-free


def test_the_training_severities_are_the_heads_else_the_protocols():
    head = experiment_config.QUALITY_AWARE_HEAD
    assert experiment_config.training_severities(head, "unseen_severities") == held_out.PROTOCOLS[
        "unseen_severities"]["train"] == (1, 2)
    assert experiment_config.training_severities(head) == kinds.SEVERITIES
    assert experiment_config.training_severities(head._replace(train_severities=(2, 3, 4, 4)),
                                                 "leave_one_kind_out") == (2, 3, 4, 4)


@pytest.mark.parametrize("config_file, assignment, words", [
    ("lfw_sface_released", "folds=0,1", "folds=0,1: the lfw_folds protocol does not read it"),
    ("lfw_sface_released", "held_out_kinds=defocus", "held_out_kinds=defocus: the lfw_folds protocol does not"),
    ("held_out_quality_aware", "cross_quality=true", "cross_quality=True: the held_out protocol does not read it"),
    ("reference_model", "folds=0", "folds=0: the reference_model protocol does not read it"),
])
def test_a_field_the_protocol_does_not_read_is_refused_not_ignored(config_file, assignment, words):
    config = experiment_config.override(experiment_config.load(os.path.join(ROOT, "configs", config_file + ".py")),
                                        [assignment])
    with pytest.raises(errors.UserError) as error:
        experiment_config.check(config)
    assert words in str(error.value) and "drop it" in str(error.value)
