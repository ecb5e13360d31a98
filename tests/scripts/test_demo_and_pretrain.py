"""The demo generator is deterministic; pretraining lowers the margin loss and separates identities."""
import glob
import hashlib
import os

import numpy as np

from pfe_estimator.faces import network_input

from pfe_estimator.faces import alignment
from data_prep import make_demo_faces
from pfe_estimator.data import record_writer
from pfe_estimator.data import pk_sampling
from pfe_estimator.model import backbones
from pfe_estimator.faces import image_io
from pfe_estimator.inference import predict
from pfe_estimator.training import estimators
from pfe_estimator.training import devices
from pfe_estimator.training import recipe as recipes
from pfe_estimator.data import tfrecord_schema


def _digests(directory):
    return {os.path.relpath(p, directory): hashlib.sha256(open(p, "rb").read()).hexdigest()
            for p in glob.glob(os.path.join(directory, "**", "*"), recursive=True) if os.path.isfile(p)}


def test_generator_is_deterministic_for_a_seed(tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        make_demo_faces.make_demo_faces(str(tmp_path / name), 4, 20, 3, seed=seed)
    first, second, other = (_digests(str(tmp_path / n)) for n in "abc")
    assert first == second and len(first) == 24 * 3 + 4  # images, landmarks, degradations, pairs, marker
    assert first != other
    lines = open(str(tmp_path / "a" / "pairs.txt")).read().splitlines()
    assert lines[0] == "10\t30" and len(lines) == 1 + 10 * 60
    rows = open(str(tmp_path / "a" / "degradations.csv")).read().splitlines()
    assert rows[0] == "path,kind,severity,parameter" and len(rows) == 1 + 24 * 3


def test_demo_landmarks_align_the_drawn_faces(tmp_path):
    """The generator's landmarks are where it drew the eyes: the aligned eye regions are darker than the
    skin between them, on average over clean images."""
    output = str(tmp_path / "faces")
    make_demo_faces.make_demo_faces(output, 30, 20, 4, seed=1)
    landmarks = alignment.read_landmark_file(os.path.join(output, "landmarks.txt"))
    crops = []
    for name, points in landmarks.items():
        path = os.path.join(output, "train", name)
        if os.path.exists(path):
            crop, _ = alignment.align_face(image_io.decode_rgb(open(path, "rb").read()), points, "112x96")
            crops.append(crop.mean(axis=2))
    mean = np.mean(crops, axis=0)
    _, template = alignment.template("112x96")
    (left_x, left_y), (right_x, _) = template[0], template[1]
    between = mean[int(left_y) - 2:int(left_y) + 3, int((left_x + right_x) / 2) - 2:int((left_x + right_x) / 2) + 3]
    iris = mean[int(left_y) - 1:int(left_y) + 2, int(left_x) - 1:int(left_x) + 2]
    assert iris.mean() < between.mean() - 10  # measured: 98.8 against 121.0 grey levels
    assert abs(np.mean([c[int(left_y), int(left_x)] for c in crops]) -
               np.mean([c[int(left_y), int(right_x)] for c in crops])) < 25  # both eyes land alike


def test_pretraining_lowers_the_margin_loss_and_separates_identities(tmp_path):
    faces = str(tmp_path / "faces")
    make_demo_faces.make_demo_faces(faces, 12, 20, 8, seed=0)
    records = str(tmp_path / "records")
    root, identities = record_writer.list_identities(os.path.join(faces, "train"))
    record_writer.write_records(root, identities, alignment.read_landmark_file(os.path.join(faces, "landmarks.txt")),
                                  records, record_writer.CropSettings("56x48", 95, None, "skip", None, 0.6), 1, 1000, 2,
                                  progress=False)
    recipe = recipes.PretrainRecipe(num_classes_per_batch=6, images_per_class=4, learning_rates=(0.05,))
    estimator = estimators.pretrain_estimator(backbones.Backbone("sphere4", 64), 12, str(tmp_path / "pretrain"),
                                              recipe, devices.Runtime(log_every_n_steps=50, random_seed=0))
    data = pk_sampling.tfrecord_input_fn_builder(records, 6, 4, (56, 48), seed=0)

    def embeddings():
        images, labels = [], []
        for record in tfrecord_schema.read_identities(os.path.join(records, "faces-00000-of-00001.tfrecord")):
            for jpeg in record["encoded"]:
                images.append(network_input.decode_network_input(jpeg, (56, 48)))
                labels.append(record["label"])
        mu = predict.estimator_predictions(estimator, ({"images": i} for i in images), {"images": [56, 48, 3]},
                                           32)["mu"]
        similarity = mu @ mu.T
        same = np.equal.outer(labels, labels) & ~np.eye(len(labels), dtype=bool)
        different = ~np.equal.outer(labels, labels)
        return similarity[same].mean() - similarity[different].mean()

    estimator.train(data, max_steps=1)
    before = estimator.evaluate(data, steps=10)
    separation_before = embeddings()
    estimator.train(data, max_steps=150)
    after = estimator.evaluate(data, steps=10)
    separation_after = embeddings()
    assert after["am_softmax_loss"] < 0.8 * before["am_softmax_loss"]
    assert after["accuracy"] > max(before["accuracy"] + 0.1, 2.0 / 12)  # chance is 1/12
    assert separation_after > separation_before + 0.1
    assert "SphereNet/Bottleneck/BatchNorm/moving_mean" in estimator.get_variable_names()
    assert np.any(estimator.get_variable_value("SphereNet/Bottleneck/BatchNorm/moving_mean") != 0)
