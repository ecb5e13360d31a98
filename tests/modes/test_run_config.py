"""The run's configuration: one frozen RunConfig from the flags and the records the run continues, built
without running a model; the training recipe it gives, the record that keeps it, and the one registry of
modes whose declarations it reads."""
import json
import os

import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator import errors
from pfe_estimator.modes import registry
from pfe_estimator.modes import run_config
from pfe_estimator.training import recipe as recipes
from tests.test_main import run_main


def defaults(**values):
    """The RunConfig of a run with every flag at its default (the definitions' defaults), then `values`."""
    from absl import flags  # pylint: disable=import-outside-toplevel
    from pfe_estimator.modes import flag_definitions  # pylint: disable=import-outside-toplevel
    if "mode" not in flags.FLAGS:
        flag_definitions.define_all()
    names = run_config.flag_names()
    return run_config.build(dict({name: flags.FLAGS[name].default for name in names}, **values), values)


def test_a_run_config_is_frozen_typed_and_built_without_running_a_model(tmp_path, monkeypatch):
    from pfe_estimator.inference import precision_check  # pylint: disable=import-outside-toplevel
    monkeypatch.setattr(precision_check, "auto_precision", lambda *args: pytest.fail("a model ran while building"))
    config = defaults(model_dir=str(tmp_path / "a"), image_size=["56", "48"])
    with pytest.raises(AttributeError):
        config.mode = "eval"
    assert config.image_size == (56, 48) and config.paths.model_dir == str(tmp_path / "a")
    assert config.backbone.name == "sphere64" and config.backbone_precision[0] == "auto"  # decided by the mode's run
    assert config.runtime.rank == 0 and config.runtime.is_chief and config.options.batch_size == 256
    assert not hasattr(config.options, "model_dir") and not hasattr(config.paths, "batch_size")  # one place each
    exported = defaults(mode="export", model_dir=str(tmp_path / "a"))
    assert exported.backbone_precision == ("fp32", "auto: the backbone does not run in this mode")


def test_the_flag_defaults_give_the_released_recipe():
    assert defaults().recipe == recipes.Recipe()
    assert defaults(mode="pretrain").recipe == recipes.PretrainRecipe()
    given = defaults(mode="pretrain", max_steps=1200, learning_rates=["0.2", "0.02", "0.002"]).recipe
    assert (given.max_steps, given.learning_rates, given.boundaries()) == (1200, (0.2, 0.02, 0.002), [685, 1028])
    with pytest.raises(errors.UserError, match="--batch_size=10 is not a multiple of --num_classes_per_batch=64"):
        defaults(batch_size=10)
    assert defaults(mode="predict", batch_size=10).options.batch_size == 10  # only training needs P x K


def test_every_mode_declares_what_it_reads_and_writes():
    for name in registry.MODES:
        mode = registry.module(name)
        assert isinstance(mode.OUTPUTS, tuple) and set(mode.OUTPUTS) <= set(run_config.PATH_FLAGS), name
        assert mode.MODEL in ("pfe", "pretrain", None) and mode.MODEL_DIR in ("always", "given"), name
        assert isinstance(mode.SAVED_MODEL, bool) and callable(mode.runs_backbone) and callable(mode.run), name


def test_the_model_record_keeps_the_recipe_and_a_resume_records_a_new_one(tmp_path):
    model_dir = str(tmp_path / "model")
    first = run_main("--mode=train", "--data=synthetic", "--max_steps=2", "--model_dir=" + model_dir)
    assert first.returncode == 0, first.stdout[-2000:]
    record = json.load(open(os.path.join(model_dir, "pfe_config.json")))
    assert record["recipe"]["max_steps"] == 2 and record["recipe"]["learning_rates"] == [0.01]
    assert record["recipe"]["weight_decay"] == 5e-4 and "earlier_recipes" not in record
    again = run_main("--mode=train", "--data=synthetic", "--max_steps=3", "--model_dir=" + model_dir)
    assert again.returncode == 0, again.stdout[-2000:]
    assert "recipe: max_steps 2 -> 3 (the record keeps the earlier recipe)" in again.stdout
    record = json.load(open(os.path.join(model_dir, "pfe_config.json")))
    assert record["recipe"]["max_steps"] == 3 and [r["max_steps"] for r in record["earlier_recipes"]] == [2]


def test_a_pooled_head_is_recorded_adopted_by_later_runs_and_never_resumed_as_another(tmp_path):
    model_dir = str(tmp_path / "model")
    first = run_main("--mode=train", "--data=synthetic", "--max_steps=2", "--head_input=pooled",
                     "--model_dir=" + model_dir)
    assert first.returncode == 0, first.stdout[-2000:]
    assert json.load(open(os.path.join(model_dir, "pfe_config.json")))["head_input"] == "pooled"
    with tf.Graph().as_default():
        kernel = tf.train.load_variable(model_dir, "UncertaintyModule/fc1/weights")
    assert kernel.shape[0] == 512  # SphereNet's 512 channels, not the flattened map
    again = run_main("--mode=train", "--data=synthetic", "--max_steps=3", "--model_dir=" + model_dir)
    assert again.returncode == 0, again.stdout[-2000:]  # the flag taken from the record
    exported = run_main("--mode=export", "--model_dir=" + model_dir, "--export_dir=" + str(tmp_path / "export"))
    assert exported.returncode == 0, exported.stdout[-2000:]
    other = run_main("--mode=train", "--data=synthetic", "--max_steps=4", "--head_input=flattened",
                     "--model_dir=" + model_dir)
    assert other.returncode == 1 and "--head_input=flattened contradicts" in other.stdout.strip().splitlines()[-1]
