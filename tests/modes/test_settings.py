"""The run's Settings: one frozen value from the flags and the model folder's record; the training recipe
they give, and the record that keeps it."""
import json
import os

import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.modes import settings as run_settings
from pfe_estimator.training import recipe as recipes
from tests.test_main import run_main


def defaults(**values):
    """Settings of a train run with every flag at its default (the definitions' defaults), then `values`."""
    from absl import flags  # pylint: disable=import-outside-toplevel
    from pfe_estimator.modes import flag_definitions  # pylint: disable=import-outside-toplevel
    if "mode" not in flags.FLAGS:
        flag_definitions.define_all()
    names = run_settings.flag_names()
    return run_settings.Settings(dict({name: flags.FLAGS[name].default for name in names}, **values), values)


def test_settings_are_frozen_and_replace_gives_a_new_value():
    settings = defaults(model_dir="/tmp/a")
    with pytest.raises(AttributeError, match="frozen"):
        settings.model_dir = "/tmp/b"
    other = settings.replace({"model_dir": "/tmp/b"}, given={"model_dir"})
    assert (settings.model_dir, other.model_dir) == ("/tmp/a", "/tmp/b") and "model_dir" in other.given
    with pytest.raises(AttributeError):
        settings.no_such_flag  # pylint: disable=pointless-statement


def test_the_flag_defaults_give_the_released_recipe():
    assert run_settings.recipe(defaults()) == recipes.Recipe()
    assert run_settings.pretrain_recipe(defaults()) == recipes.PretrainRecipe()
    given = run_settings.pretrain_recipe(defaults(max_steps=1200, lr_values=["0.2", "0.02", "0.002"]))
    assert (given.max_steps, given.learning_rates, given.boundaries()) == (1200, (0.2, 0.02, 0.002), [686, 1029])
    with pytest.raises(run_settings.FlagError, match="--batch_size=10 is not a multiple of --num_classes_per_batch=64"):
        run_settings.recipe(defaults(batch_size=10))


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
