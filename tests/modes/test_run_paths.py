"""The one output rule, as a table over every (mode, output flag, input flag): an output never is, holds or
lies inside a path its run reads or keeps, and --overwrite does not change that."""
import os

import pytest

from pfe_estimator.modes import registry
from pfe_estimator.modes import run_config
from pfe_estimator.storage import outputs

CASES = [(mode, written, read) for mode in sorted(registry.MODES) for written in registry.module(mode).OUTPUTS
         for read in run_config.PATH_FLAGS if read != written]


def values_with(tmp_path, **paths):
    """Every path flag at a folder of its own under tmp_path, then `paths` on top."""
    values = {flag: str(tmp_path / "others" / flag) for flag in run_config.PATH_FLAGS}
    values["backbone"] = "onnx:" + str(tmp_path / "others" / "backbone.onnx")
    values.update(paths)
    return values


def flag_value(flag, path):
    return "onnx:" + path if flag == "backbone" else path


@pytest.mark.parametrize("mode, written, read", CASES)
def test_an_output_overlapping_any_other_path_of_the_run_is_refused(tmp_path, mode, written, read):
    shared = tmp_path / "case" / "shared"
    for output_path, relation in ((shared, "is"), (shared / "inner", "lies inside"), (tmp_path / "case", "holds")):
        values = values_with(tmp_path, **{read: flag_value(read, str(shared)), written: str(output_path)})
        given = set(run_config.PATH_FLAGS)
        with pytest.raises(outputs.OutputError) as refused:
            outputs.check_run_paths(*run_config.run_paths(mode, values, given))
        message = str(refused.value)
        expected = "--%s=%s %s --%s=%s, which this run" % (written, output_path, relation, read, shared)
        assert message.startswith(expected) or message.startswith("--%s=%s %s --%s=%s, which this run" % (
                read, shared, {"is": "is", "lies inside": "holds", "holds": "lies inside"}[relation], written,
                output_path)), message
        assert "--overwrite included" in message


@pytest.mark.parametrize("mode", sorted(registry.MODES))
def test_paths_apart_pass_and_flags_not_given_are_not_inputs(tmp_path, mode):
    values = values_with(tmp_path)
    outputs.check_run_paths(*run_config.run_paths(mode, values, set(run_config.PATH_FLAGS)))
    written, read = run_config.run_paths(mode, values_with(tmp_path, data_dir=str(tmp_path)), {"model_dir"})
    assert "data_dir" not in read and set(written) == set(registry.module(mode).OUTPUTS)
    assert read["model_dir"] == values["model_dir"] if "model_dir" not in written else "model_dir" not in read


def test_a_prefix_checkpoint_and_a_file_input_are_protected_by_their_paths(tmp_path):
    folder = tmp_path / "pretrained"
    prefix = str(folder / "model.ckpt-100")
    with pytest.raises(outputs.OutputError, match="holds --pretrained_ckpt=%s" % prefix):
        outputs.check_run_paths({"cache_dir": str(folder)}, {"pretrained_ckpt": prefix})
    landmarks = str(tmp_path / "annotations" / "landmarks.txt")
    outputs.check_run_paths({"output_dir": str(tmp_path / "records")}, {"landmarks": landmarks})  # siblings: fine
    with pytest.raises(outputs.OutputError, match="holds --landmarks="):
        outputs.check_run_paths({"output_dir": str(tmp_path / "annotations")}, {"landmarks": landmarks})


def test_links_and_trailing_slashes_do_not_hide_an_overlap(tmp_path):
    (tmp_path / "model").mkdir()
    os.symlink(str(tmp_path / "model"), str(tmp_path / "link"))
    with pytest.raises(outputs.OutputError, match="is --model_dir="):
        outputs.check_run_paths({"report_dir": str(tmp_path / "link") + "/"}, {"model_dir": str(tmp_path / "model")})


def test_refusals_say_what_the_folder_is_and_offer_overwrite_only_where_it_applies(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-3"\n')
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "a.jpg").write_bytes(b"x")
    other_kind = tmp_path / "report"
    other_kind.mkdir()
    outputs.write_marker(str(other_kind), "report")
    for overwrite in (False, True):
        with pytest.raises(outputs.OutputError, match="holds a training model folder \\(checkpoints\\); --overwrite "
                                                      "never replaces one"):
            outputs.claim_directory(str(model), "feature_cache", "cache_dir", {"a": 1}, overwrite=overwrite)
        with pytest.raises(outputs.OutputError, match="holds a training model folder"):
            with outputs.replacing_directory(str(model), "export", "export_dir", overwrite=overwrite) as staging:
                os.makedirs(staging)
    with pytest.raises(outputs.OutputError, match="already holds a folder of files this pipeline did not write, not an "
                                                  "earlier export output; use a new folder, or --overwrite"):
        outputs.check_replaceable_directory(str(foreign), "export", "export_dir")
    with pytest.raises(outputs.OutputError, match="already holds a report output of this pipeline, not an earlier "
                                                  "export output; use a new folder, or --overwrite"):
        outputs.check_replaceable_directory(str(other_kind), "export", "export_dir")
    assert (model / "checkpoint").exists() and (foreign / "a.jpg").exists()
    assert outputs.describe(str(tmp_path / "absent")) == "not created yet"
    assert outputs.describe(str(foreign / "a.jpg")) == "a file"


def test_the_cross_quality_tool_keeps_its_output_apart_from_lfw(tmp_path):
    from pfe_estimator.experiments import cross_quality_photos  # pylint: disable=import-outside-toplevel
    lfw = tmp_path / "lfw"
    (lfw / "images").mkdir(parents=True)
    for target in (str(lfw), str(lfw / "cross_quality"), str(tmp_path)):
        with pytest.raises(outputs.OutputError, match="--lfw_dir=%s, which this run reads" % lfw):
            cross_quality_photos.make_cross_quality(str(lfw), target, overwrite=True)
    assert os.listdir(str(lfw)) == ["images"]
