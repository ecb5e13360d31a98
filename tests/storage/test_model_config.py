"""The model folder's record: a resumed training must be the same network."""
import pytest

from pfe_estimator import errors
from pfe_estimator.storage import model_config

RECORD = {"model": "pfe", "backbone": "onnx:/m/sface.onnx", "onnx_sha256": "ab", "image_size": [112, 112],
          "embedding_size": 128, "head_input": "flattened", "recipe": {"max_steps": 10}}


@pytest.mark.parametrize("key,value", [("onnx_sha256", "cd"), ("backbone", "sphere64"), ("image_size", [112, 96]),
                                       ("embedding_size", 512), ("head_input", "pooled"), ("model", "pretrain")])
def test_a_resume_into_a_folder_of_another_network_is_refused_and_the_record_kept(tmp_path, key, value):
    model_dir = str(tmp_path / "model")
    assert model_config.write_training_record(model_dir, RECORD) == []
    with pytest.raises(errors.UserError, match="records %s .*resuming would mix two models" % key):
        model_config.write_training_record(model_dir, dict(RECORD, **{key: value}))
    assert model_config.read(model_dir) == RECORD


def test_a_record_from_before_head_input_means_flattened(tmp_path):
    model_dir = str(tmp_path / "model")
    old = {k: v for k, v in RECORD.items() if k != "head_input"}
    model_config.write_training_record(model_dir, old)
    assert model_config.write_training_record(model_dir, dict(RECORD, recipe={"max_steps": 20})) == [
        ("max_steps", 10, 20)]
    with pytest.raises(errors.UserError, match="records head_input flattened, this training has pooled"):
        model_config.write_training_record(model_dir, dict(RECORD, head_input="pooled"))


def test_a_resume_trained_on_other_data_is_refused_and_the_record_kept(tmp_path):
    """A head records what it trained on (the experiments' heads: the cache, identities and settings): a rerun
    into the same folder with other identities or copies would otherwise resume the finished head silently."""
    model_dir = str(tmp_path / "model")
    record = dict(RECORD, trained_on="LFW people.txt folds 1-9, 1499 identities, 2 degraded copies per image")
    model_config.write_training_record(model_dir, record)
    with pytest.raises(errors.UserError, match="records trained_on .*resuming would mix two models"):
        model_config.write_training_record(model_dir, dict(record, trained_on="LFW people.txt folds 1-9, 750 "
                                                           "identities, 2 degraded copies per image"))
    assert model_config.read(model_dir) == record
    assert model_config.write_training_record(model_dir, dict(record, recipe={"max_steps": 20})) == [
        ("max_steps", 10, 20)]
