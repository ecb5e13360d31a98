"""The export folder users take anywhere: the JPEG/PNG bytes signature, pfe.onnx, and predict, verify and
eval from --saved_model alone, on real aligned LFW faces."""
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import tensorflow.compat.v1 as tf

from pfe_estimator.data import embedding_files
from pfe_estimator.data import pk_sampling
from pfe_estimator.faces import network_input
from pfe_estimator.inference import export
from pfe_estimator.inference import predict
from tests.conftest import RECORD_FLAGS, main_alone, subset_pairs
from tests.test_faults import error_line
from tests.test_main import run_main

SIZE = (56, 48)


@pytest.fixture(scope="module")
def exported(work, tmp_path_factory):
    """The session's SphereNet-4 model trained on real LFW records, exported; and 7 of those records' crops."""
    export_dir = str(tmp_path_factory.mktemp("serving") / "export")
    result = run_main("--mode=export", "--model_dir=" + work["record_model"], "--export_dir=" + export_dir,
                      *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    names, jpegs = predict.read_tfrecord_faces(work["records"])
    return export_dir, names[:7], jpegs[:7]


def run_signature(export_dir, name, inputs):
    with tf.Graph().as_default(), tf.Session() as session:
        signature = predict.load_saved_model(session, export_dir).signature_def[name]
        feeds = {signature.inputs[key].name: value for key, value in inputs.items()}
        return session.run([signature.outputs["mu"].name, signature.outputs["sigma_sq"].name], feeds)


def training_decoded(jpegs):
    """The crops as training decodes them (pk_sampling.decode_face)."""
    with tf.Graph().as_default(), tf.Session() as session:
        encoded = tf.placeholder(tf.string, [])
        decoded = pk_sampling.decode_face(encoded, SIZE)
        return np.stack([session.run(decoded, {encoded: jpeg}) for jpeg in jpegs])


def test_the_bytes_signature_equals_serving_default_on_the_training_decoding(exported):
    export_dir, _, jpegs = exported
    mu, sigma_sq = run_signature(export_dir, "serving_default", {"images": training_decoded(jpegs)})
    bytes_mu, bytes_sigma_sq = run_signature(export_dir, export.BYTES_SIGNATURE, {"image_bytes": np.array(jpegs)})
    np.testing.assert_allclose(bytes_mu, mu, atol=1e-5)
    np.testing.assert_allclose(bytes_sigma_sq, sigma_sq, rtol=1e-5)
    assert mu.shape == (7, 16)


def test_png_and_larger_crops_are_read_as_predict_reads_files(exported, tmp_path):
    export_dir, _, jpegs = exported
    face = cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR)
    larger = cv2.copyMakeBorder(face, 5, 6, 3, 4, cv2.BORDER_REFLECT)  # centre-cropped back to the face
    png = cv2.imencode(".png", larger)[1].tobytes()
    path = str(tmp_path / "larger.png")
    with open(path, "wb") as f:
        f.write(png)
    by_file = run_signature(export_dir, "serving_default",
                            {"images": network_input.load_network_input(path, SIZE)[None]})
    by_bytes = run_signature(export_dir, export.BYTES_SIGNATURE, {"image_bytes": np.array([png])})
    np.testing.assert_allclose(by_bytes[0], by_file[0], atol=1e-5)


@pytest.mark.parametrize("payload,message", [
    (b"this is not an image", "an element is neither a JPEG nor a PNG; its length in bytes:.*20"),
    (b"", "an element is neither a JPEG nor a PNG; its length in bytes:.*0"),
    ("small", "a crop is smaller than the model input of 56x48 .height x width.; this one is.*40.*40"),
])
def test_bad_bytes_are_an_error_the_caller_reads_and_the_model_keeps_serving(exported, payload, message):
    export_dir, _, jpegs = exported
    if payload == "small":
        small = cv2.imdecode(np.frombuffer(jpegs[0], np.uint8), cv2.IMREAD_COLOR)[:40, :40]
        payload = cv2.imencode(".jpg", small)[1].tobytes()
    with tf.Graph().as_default(), tf.Session() as session:
        signature = predict.load_saved_model(session, export_dir).signature_def[export.BYTES_SIGNATURE]
        fetches = [signature.outputs["mu"].name]
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            session.run(fetches, {signature.inputs["image_bytes"].name: np.array([payload])})
        good = session.run(fetches, {signature.inputs["image_bytes"].name: np.array(jpegs[:1])})  # still serving
        assert good[0].shape == (1, 16)


@pytest.mark.parametrize("batch", [1, 7])
def test_the_onnx_file_gives_the_saved_model_numbers(exported, batch):
    import onnxruntime  # pylint: disable=import-outside-toplevel
    export_dir, _, jpegs = exported
    images = training_decoded(jpegs)[:batch]
    mu, sigma_sq = run_signature(export_dir, "serving_default", {"images": images})
    session = onnxruntime.InferenceSession(os.path.join(export_dir, export.ONNX_NAME),
                                           providers=["CPUExecutionProvider"])
    onnx_mu, onnx_sigma_sq = session.run(["mu:0", "sigma_sq:0"], {"images:0": images})
    assert np.abs(onnx_mu - mu).max() <= 1e-4 * np.abs(mu).max()
    assert np.abs(onnx_sigma_sq - sigma_sq).max() <= 1e-4 * np.abs(sigma_sq).max()
    # OpenCV's dnn loads the file and gives mu; its importer fuses the head's Exp -> Add(1e-6) -> Log into a
    # Softplus, log(1 + exp(x)), so its sigma_sq is 1 too high: sigma_sq needs onnxruntime (docs/deployment.md).
    network = cv2.dnn.readNetFromONNX(os.path.join(export_dir, export.ONNX_NAME))
    network.setInput(images)
    opencv_mu, opencv_sigma_sq = network.forward(["mu:0", "sigma_sq:0"])
    assert np.abs(opencv_mu - mu).max() <= 1e-4 * np.abs(mu).max()
    np.testing.assert_allclose(opencv_sigma_sq, 1.0 + sigma_sq - 1e-6, atol=1e-5)  # the fusion, as described


def test_the_export_record_says_what_inference_needs(exported):
    export_dir, _, _ = exported
    record = json.load(open(os.path.join(export_dir, export.RECORD_NAME)))
    assert record["image_size"] == list(SIZE) and record["backbone"] == "sphere4" and record["embedding_size"] == 16
    assert record["template"] == "56x48" and record["recipe"]["num_classes_per_batch"] == 4
    assert record["onnx"] == export.ONNX_NAME and record["calibration"] is None


def test_predict_eval_and_verify_from_the_export_alone_give_the_checkpoint_numbers(work, exported, tmp_path):
    """No --model_dir and no model flags: the export folder's record supplies the image size."""
    export_dir, names, jpegs = exported
    faces = tmp_path / "faces"
    faces.mkdir()
    for name, jpeg in zip(names, jpegs):
        (faces / (name + ".jpg")).write_bytes(jpeg)
    from_checkpoint = str(tmp_path / "checkpoint.npz")
    # the export computes in fp32; the checkpoint path at the defaults may run the backbone in bf16
    result = run_main("--mode=predict", "--model_dir=" + work["record_model"], "--predict_dir=" + str(faces),
                      "--predict_output=" + from_checkpoint, "--backbone_precision=fp32", *RECORD_FLAGS)
    assert result.returncode == 0, result.stdout[-3000:]
    moved = str(tmp_path / "moved_export")
    shutil.copytree(export_dir, moved)  # the folder alone, elsewhere
    from_export = str(tmp_path / "export.npz")
    result = main_alone("--mode=predict", "--saved_model=" + moved, "--predict_dir=" + str(faces),
                        "--predict_output=" + from_export)
    assert result.returncode == 0, result.stdout[-3000:]
    a, b = embedding_files.load(from_checkpoint), embedding_files.load(from_export)
    assert list(a[0]) == list(b[0])
    np.testing.assert_allclose(b[1], a[1], atol=1e-5)
    np.testing.assert_allclose(b[2], a[2], rtol=1e-4)
    pairs = subset_pairs(str(tmp_path / "pairs.txt"), sorted({name.rsplit("_", 1)[0] for name in
                                                              predict.read_tfrecord_faces(work["records"])[0]}))
    reports = {}
    for source, run in (("checkpoint", lambda *f: run_main("--model_dir=" + work["record_model"], *f,
                                                           "--backbone_precision=fp32", *RECORD_FLAGS)),
                        ("export", lambda *f: main_alone("--saved_model=" + moved, *f))):
        report_dir = str(tmp_path / ("report_" + source))
        result = run("--mode=eval", "--lfw_dir=" + work["records"], "--lfw_pairs=" + pairs,
                     "--report_dir=" + report_dir)
        assert result.returncode == 0, result.stdout[-3000:]
        reports[source] = json.load(open(os.path.join(report_dir, "report.json")))["lfw"]
    for score in ("cosine", "mls"):
        assert abs(reports["export"][score]["auc"] - reports["checkpoint"][score]["auc"]) < 1e-9
        assert reports["export"][score]["accuracy_mean"] == reports["checkpoint"][score]["accuracy_mean"]
    result = main_alone("--mode=verify", "--saved_model=" + moved, "--image_a=" + str(faces / (names[0] + ".jpg")),
                        "--image_b=" + str(faces / (names[1] + ".jpg")))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "no calibration in %s" % moved in result.stdout


def test_onnx_export_is_refused_in_one_line_on_tensorflow_1(monkeypatch):
    monkeypatch.setattr(tf.version, "VERSION", "1.15.5")
    assert export.onnx_problem() == ("ONNX export needs TensorFlow 2.x (tf2onnx); this is 1.15.5: pfe.onnx not "
                                     "written")


def test_an_export_into_a_folder_of_other_files_is_still_refused(work, tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    result = run_main("--mode=export", "--model_dir=" + work["record_model"], "--export_dir=" + str(foreign),
                      *RECORD_FLAGS)
    assert result.returncode == 1 and "--export_dir=%s" % foreign in error_line(result)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_an_onnx_imported_backbone_exports_to_onnx_with_the_same_numbers(tmp_path):
    """SFace (imported from ONNX into TensorFlow) with a head, exported: pfe.onnx in onnxruntime against the
    SavedModel on real aligned LFW faces (112x112), batch 1 and 7."""
    import onnxruntime  # pylint: disable=import-outside-toplevel
    from pfe_estimator.model import backbones  # pylint: disable=import-outside-toplevel
    from pfe_estimator.training import estimators  # pylint: disable=import-outside-toplevel
    from pfe_estimator.training import recipe as recipes  # pylint: disable=import-outside-toplevel
    from tests.conftest import lfw_subset_records, shared_path  # pylint: disable=import-outside-toplevel
    sface = shared_path("models", "sface", "face_recognition_sface_2021dec_int8bq.onnx")
    backbone = backbones.Backbone("onnx:" + sface, 128)
    model_dir, export_dir = str(tmp_path / "model"), str(tmp_path / "export")
    estimator = estimators.pfe_estimator(backbone, model_dir, recipes.Recipe(
        num_classes_per_batch=2, images_per_class=2, learning_rates=(1e-3,)))
    estimator.train(pk_sampling.synthetic_input_fn_builder(2, 2, (112, 112)), max_steps=1)
    _, problem, _ = export.export_pfe(model_dir, export_dir, backbone, (112, 112))
    assert problem is None
    records, _, _ = lfw_subset_records(tmp_path, "112x112")
    jpegs = predict.read_tfrecord_faces(records)[1][:7]
    with tf.Graph().as_default(), tf.Session() as session:
        encoded = tf.placeholder(tf.string, [])
        decoded = pk_sampling.decode_face(encoded, (112, 112))
        images = np.stack([session.run(decoded, {encoded: jpeg}) for jpeg in jpegs])
    session = onnxruntime.InferenceSession(os.path.join(export_dir, export.ONNX_NAME),
                                           providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        mu, sigma_sq = run_signature(export_dir, "serving_default", {"images": images[:batch]})
        onnx_mu, onnx_sigma_sq = session.run(["mu:0", "sigma_sq:0"], {"images:0": images[:batch]})
        assert np.abs(onnx_mu - mu).max() <= 1e-4 * np.abs(mu).max()
        assert np.abs(onnx_sigma_sq - sigma_sq).max() <= 1e-4 * np.abs(sigma_sq).max()
