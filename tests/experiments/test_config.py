"""An experiment is a value and a file: every config under configs/ loads, checks and names its run; each protocol
owns its typed config; the command line's --set changes a field by its path and type; a value no run can use is
one line naming the field; an experiment recorded in the earlier shape is today's same experiment."""
import ast
import glob
import inspect
import json
import os
import re

import pytest

from pfe_estimator import errors
from pfe_estimator.evaluation import held_out
from pfe_estimator.experiments import config as experiment_config
from pfe_estimator.experiments import earlier_configs
from pfe_estimator.experiments import fold_heads
from pfe_estimator.experiments import lfw_data
from pfe_estimator.experiments import run
from pfe_estimator.experiments import work_folder
from pfe_estimator.experiments.protocols import registry
from pfe_estimator.faces import kinds
from pfe_estimator.storage import outputs
from pfe_estimator.training import recipe as recipes
from tests.conftest import ROOT


def config_files():
    return sorted(path for path in glob.glob(os.path.join(ROOT, "configs", "*.py"))
                  if os.path.basename(path) not in ("__init__.py", "base.py"))


def load(name):
    return experiment_config.load(os.path.join(ROOT, "configs", name + ".py"))


def test_every_config_file_loads_checks_and_carries_its_command_and_figures():
    """Each file carries what is its own: a command with placeholders for the paths, when it was measured, its
    figures; the legend and the local paths are stated once (configs/base.py, the command line)."""
    files = config_files()
    assert len(files) >= 5
    legend = "cells ahead / significantly"
    assert legend in open(os.path.join(ROOT, "configs", "base.py"), encoding="utf-8").read()
    for path in files:
        config = experiment_config.load(path)
        experiment_config.check(config)
        name = os.path.splitext(os.path.basename(path))[0]
        text = open(path, encoding="utf-8").read()
        assert config.name == name and registry.name_of(config.protocol)
        assert "python -m scripts.run_experiment configs/%s.py --lfw_dir LFW --sface SFACE.onnx" % name in text, name
        assert "../shared" not in text and legend not in text, name
        assert "Measured" in text and " s" in text, name  # its run time and figures
        assert 8 <= len(text.splitlines()) <= 30, name


def test_the_heads_are_the_released_one_and_the_measured_quality_aware_one():
    released, quality = fold_heads.RELEASED_HEAD, fold_heads.QUALITY_AWARE_HEAD
    assert (released.input, released.recipe.quality_ranking_weight, released.copies) == ("flattened", 0.0, 0)
    assert (quality.input, quality.recipe.quality_ranking_weight, quality.copies) == ("pooled", 100.0, 2)
    recipe = quality.recipe  # the published schedule: the drop at the floor of 2/3 of the steps (266 of 400)
    assert recipe.boundaries() == [266] and recipe.learning_rates == (1e-3, 1e-4)
    assert (recipe.num_classes_per_batch, recipe.images_per_class, recipe.max_steps) == (32, 4, 400)
    assert released.seed == quality.seed == 0


def test_a_head_recipe_field_has_the_name_of_main_py_flag():
    """--set protocol.head.recipe.max_steps=3 and main.py's --max_steps=3 name one field (images_per_class is
    main.py's --batch_size / --num_classes_per_batch). docs/flags.md lists main.py's flags (a test keeps it so)."""
    page = open(os.path.join(ROOT, "docs", "flags.md"), encoding="utf-8").read()
    defined = set(re.findall(r"^\| `--(\w+)` \|", page, re.M))
    assert {"max_steps", "mode", "random_seed"} <= defined
    for field in recipes.Recipe._fields:
        assert field in defined or field == "images_per_class", field


def test_set_parses_each_field_by_its_path_and_type_and_names_what_it_cannot_parse():
    config = load("held_out_quality_aware")
    changed = experiment_config.override(config, [
        "protocol.head.recipe.max_steps=3", "protocol.folds=0,1", "protocol.held_out_kinds=defocus",
        "protocol.head.train_severities=1,2,2", "protocol.head.recipe.learning_rates=0.01,0.001",
        "protocol.head.seed=7", "protocol.test_seed=3", "backbone_precision=fp32"])
    protocol = changed.protocol
    assert protocol.head.recipe.max_steps == 3 and protocol.folds == (0, 1)
    assert protocol.held_out_kinds == ("defocus",) and protocol.head.train_severities == (1, 2, 2)
    assert protocol.head.recipe.learning_rates == (0.01, 0.001) and protocol.head.seed == 7
    assert protocol.test_seed == 3 and changed.backbone_precision == "fp32"
    assert protocol.head.input == "pooled" and changed.name == config.name  # the rest as it was
    lfw = experiment_config.override(load("lfw_sface_cross_quality"), ["protocol.cross_quality=false",
                                                                        "protocol.quality_aware_head=none"])
    assert lfw.protocol.cross_quality is False and lfw.protocol.quality_aware_head is None
    for config_name, assignment, words in (
            ("held_out_quality_aware", "protocol.head.recipe.stpes=3", "no field stpes"),
            ("held_out_quality_aware", "protocol.head.recipe.max_steps=three", "expected a int"),
            ("held_out_quality_aware", "protocol.folds=a", "comma-separated ints"),
            ("held_out_quality_aware", "steps", "expected FIELD=VALUE"),
            ("held_out_quality_aware", "protocol=blufr", "set its fields"),
            ("held_out_quality_aware", "name=x", "no field name"),
            ("lfw_sface_released", "protocol.quality_aware_head.recipe.max_steps=3",
             "protocol.quality_aware_head is none in this config"),
            # a field its protocol does not read does not exist
            ("lfw_sface_released", "protocol.folds=0,1", "no field folds (fields: head, quality_aware_head"),
            ("held_out_quality_aware", "protocol.cross_quality=true", "no field cross_quality"),
            ("reference_model", "protocol.folds=0", "no field folds"),
            ("held_out_quality_aware", "head.steps=3", "no field head (fields: backbone_precision, protocol)")):
        with pytest.raises(errors.UserError, match="--set %s" % re.escape(assignment.split("=")[0])) as error:
            experiment_config.override(load(config_name), [assignment])
        assert words in str(error.value)


@pytest.mark.parametrize("assignment, words", [
    ("protocol.head.recipe.max_steps=0", "protocol.head.recipe.max_steps=0: expected a positive integer"),
    ("protocol.head.recipe.max_steps=-5", "protocol.head.recipe.max_steps=-5: expected a positive integer"),
    ("protocol.head.recipe.num_classes_per_batch=0", "protocol.head.recipe.num_classes_per_batch=0"),
    ("protocol.head.recipe.images_per_class=1", "MLS compares images of one identity"),
    ("protocol.head.recipe.learning_rates=nan", "protocol.head.recipe.learning_rates=(nan,): expected positive"),
    ("protocol.head.recipe.weight_decay=-1", "protocol.head.recipe.weight_decay=-1.0: expected a number >= 0"),
    ("protocol.head.copies=0", "protocol.head.copies=0: expected 1 or more: these heads train on degraded copies"),
    ("protocol.head.copies=-1", "protocol.head.copies=-1: expected 1 or more"),
    ("protocol.head.identity_share=1.5", "(0, 1]"),
    ("protocol.head.identity_share=0", "(0, 1]"),
    ("protocol.head.train_severities=3,4", "holds 3,4, which unseen_severities tests on"),
    ("protocol.head.train_severities=2,5", "give severities 1-4"),
    ("protocol.folds=10", "protocol.folds=10: expected distinct people.txt folds among 0..9"),
    ("protocol.folds=-1", "protocol.folds=-1"),
    ("protocol.folds=0,0", "protocol.folds=0,0"),
    ("protocol.held_out_kinds=blurr", "held_out_kinds: blurr is not one of"),
    ("protocol.schemes=unseen", "protocol.schemes=unseen: expected some of"),
    ("protocol.test_seed=-1", "protocol.test_seed=-1: expected a number >= 0"),
    ("backbone_precision=fp16", "backbone_precision=fp16"),
])
def test_a_value_no_run_can_use_is_one_line_naming_the_field(assignment, words):
    config = experiment_config.override(load("held_out_quality_aware"), [assignment])
    with pytest.raises(errors.UserError) as error:
        experiment_config.check(config)
    assert str(error.value).startswith("held_out_quality_aware: ") and words in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("config_name, assignment, words", [
    ("all_pairs_quality_aware", "protocol.fars=0", "protocol.fars=0.0: expected false accept rates in (0, 1)"),
    ("all_pairs_quality_aware", "protocol.plain_head.recipe.max_steps=0", "protocol.plain_head.recipe.max_steps=0"),
    ("reference_model", "protocol.calibration_fold=10", "protocol.calibration_fold=10: expected a fold among 0..9"),
    ("reference_model", "protocol.fars=1.5", "protocol.fars=1.5"),
    ("lfw_sface_cross_quality", "protocol.degraded_faces=0", "protocol.degraded_faces=0"),
    ("lfw_sface_cross_quality", "protocol.quality_aware_head.copies=0", "protocol.quality_aware_head.copies=0"),
])
def test_each_protocol_checks_its_own_fields(config_name, assignment, words):
    config = experiment_config.override(load(config_name), [assignment])
    with pytest.raises(errors.UserError) as error:
        experiment_config.check(config)
    assert str(error.value).startswith(config_name + ": ") and words in str(error.value)


def test_a_new_protocol_is_its_module_and_one_registry_line():
    for name in registry.PROTOCOLS:
        module = registry.module(name)
        assert registry.name_of(module.Config()) == name
        assert all(callable(getattr(module, f)) for f in ("check", "run", "summary"))
        assert module.check(module.Config()) == []  # the defaults run
        assert len(inspect.getsource(module.check).splitlines()) <= 20, name
    assert registry.name_of(fold_heads.RELEASED_HEAD) is None


def test_no_protocol_module_imports_another():
    folder = os.path.join(ROOT, "pfe_estimator", "experiments", "protocols")
    for name in registry.PROTOCOLS.values():
        tree = ast.parse(open(os.path.join(folder, name + ".py"), encoding="utf-8").read())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    and node.module == "pfe_estimator.experiments.protocols" for alias in node.names}
        assert imported <= {"fields"}, (name, imported)


def test_an_experiment_records_what_decides_its_numbers():
    """The FARs, the heads' seed and the test draws' seed are fields, in the experiment the report carries."""
    recorded = experiment_config.as_dict(load("all_pairs_quality_aware"))
    assert recorded["protocol"]["kind"] == "all_pairs" and recorded["protocol"]["fars"] == [0.001, 0.01]
    assert recorded["protocol"]["head"]["seed"] == 0 and recorded["protocol"]["test_seed"] == 0
    assert recorded["protocol"]["head"]["recipe"]["max_steps"] == 400


# The experiment of configs/lfw_sface_released.py as reports and report folders recorded it before each protocol
# owned its config (docs/results/lfw_sface_released/report.json, commit 3864073).
EARLIER_RELEASED = {
    "backbone_precision": "auto", "calibration_fold": 9, "cross_quality": False, "degraded_faces": 300,
    "folds": list(range(10)), "head": {"classes_per_batch": 32, "copies": 0, "identity_share": 1.0,
                                       "images_per_class": 4, "input": "flattened", "learning_rate": 0.001,
                                       "ranking_margin": 0.1, "ranking_weight": 0.0, "steps": 400,
                                       "train_severities": None, "weight_decay": 0.0005},
    "held_out_kinds": list(kinds.KINDS), "held_out_protocols": ["leave_one_kind_out", "unseen_severities"],
    "name": "lfw_sface_released", "protocol": "lfw_folds", "quality_aware_head": None, "seed": 0}


def test_an_earlier_experiment_is_todays_same_experiment():
    assert earlier_configs.experiment(EARLIER_RELEASED) == experiment_config.as_dict(load("lfw_sface_released"))
    earlier_quality = dict(EARLIER_RELEASED, protocol="held_out", held_out_kinds=["motion_blur", "defocus"], head=dict(
        EARLIER_RELEASED["head"], input="pooled", ranking_weight=100.0, copies=2), name="held_out_quality_aware")
    assert earlier_configs.experiment(earlier_quality) == experiment_config.as_dict(load("held_out_quality_aware"))
    for name in ("lfw_sface_released", "all_pairs_three_folds"):  # the measured reports, migrated once
        report = json.load(open(os.path.join(ROOT, "docs", "results", name, "report.json")))
        assert report["experiment"] == experiment_config.as_dict(load(name)), name


def test_a_report_folder_marked_with_an_earlier_experiment_is_resumed_not_refused(tmp_path):
    """A rerun under an earlier name is not refused for the shape of its record alone; a changed field still is."""
    lfw = tmp_path / "lfw"
    (lfw / "images" / "A").mkdir(parents=True)
    (lfw / "ldmark_lfw_mtcnncaffe.txt").write_text("")
    (lfw / "pairs.txt").write_text("1\t0\n")
    (lfw / "people.txt").write_text("1\n")
    sface = tmp_path / "sface.onnx"
    sface.write_bytes(b"x")
    inputs = lfw_data.Inputs(str(lfw), str(sface), str(tmp_path / "work"), None)
    keys = {"lfw": lfw_data.lfw_key(inputs), "sface_sha256": outputs.file_digest(str(sface))}
    folder, claimed = work_folder.report_folder(inputs.work_dir, "lfw_sface_released", work_folder.flat(
        dict(keys, experiment=EARLIER_RELEASED)))
    assert claimed == "new"
    config = load("lfw_sface_released")
    assert run.claim_report(config, inputs) == (folder, "resume")
    changed = experiment_config.override(config, ["protocol.test_seed=1"])
    with pytest.raises(errors.UserError, match=r"changed: experiment.protocol.test_seed 0 -> 1\)"):
        run.claim_report(changed, inputs)


def test_a_run_is_refused_before_any_work_when_its_outputs_lie_inside_its_inputs(tmp_path):
    lfw = tmp_path / "lfw"
    (lfw / "images").mkdir(parents=True)
    sface = tmp_path / "sface.onnx"
    sface.write_bytes(b"x")
    config = load("held_out_quality_aware")
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
    assert work_folder.flat({"experiment": {"protocol": {"head": {"recipe": {"max_steps": 3}}}}, "sface_sha256": "a"}) \
        == {"experiment.protocol.head.recipe.max_steps": 3, "sface_sha256": "a"}


def test_every_artefact_name_changes_with_anything_in_its_key():
    key = {"records": "r", "sface": {"sha256": "a", "precision": "fp32"}, "copies": 2, "seed": 0}
    base = work_folder.path("w", "caches", "clean", key)
    for changed in ({"sface": {"sha256": "b", "precision": "fp32"}}, {"sface": {"sha256": "a", "precision": "bf16"}},
                    {"copies": 1}, {"seed": 1}, {"records": "s"}):
        assert work_folder.path("w", "caches", "clean", dict(key, **changed)) != base
    assert work_folder.path("w", "caches", "clean", dict(reversed(list(key.items())))) == base  # order-free


def test_the_training_severities_are_the_heads_else_the_schemes():
    head = fold_heads.QUALITY_AWARE_HEAD
    assert fold_heads.training_severities(head, "unseen_severities") == held_out.SCHEMES[
        "unseen_severities"]["train"] == (1, 2)
    assert fold_heads.training_severities(head) == kinds.SEVERITIES
    assert fold_heads.training_severities(head._replace(train_severities=(2, 3, 4, 4)),
                                          "leave_one_kind_out") == (2, 3, 4, 4)
