"""Cross-quality LFW: graded degradations and the seeded, byte-identical protocol generator."""
import hashlib
import os

import cv2
import numpy as np

from pfe_estimator.faces import alignment
from pfe_estimator.faces import degradations
from pfe_estimator.experiments import cross_quality_photos
from pfe_estimator.faces import image_io
from tests.conftest import shared_path

PEOPLE = ["Colin_Powell", "Tony_Blair", "George_W_Bush", "Hugo_Chavez", "Jacques_Chirac"]


def folder_digest(folder):
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if name != "pfe_output.json":
                digest.update(name.encode())
                digest.update(open(os.path.join(root, name), "rb").read())
    return digest.hexdigest()


def small_pairs(tmp_path):
    """An LFW-format pairs file over real LFW people: 2 folds of 5 genuine + 5 impostor pairs."""
    lines = ["2\t5"]
    for fold in range(2):
        lines += ["%s\t%d\t%d" % (person, 1 + fold, 3 + fold) for person in PEOPLE]
        lines += ["%s\t%d\t%s\t%d" % (PEOPLE[i], 1 + fold, PEOPLE[(i + 1) % 5], 2 + fold) for i in range(5)]
    path = tmp_path / "pairs.txt"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_generator_is_byte_identical_for_a_seed_and_degrades_the_drawn_side(tmp_path):
    lfw = shared_path("data", "lfw")
    pairs = small_pairs(tmp_path)
    outputs = {}
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        outputs[name] = str(tmp_path / name)
        cross_quality_photos.make_cross_quality(lfw, outputs[name], seed, pairs_file=pairs)
    assert folder_digest(outputs["a"]) == folder_digest(outputs["b"])
    assert folder_digest(outputs["a"]) != folder_digest(outputs["c"])
    rows = cross_quality_photos.read_rows(outputs["a"])
    assert cross_quality_photos.make_cross_quality(lfw, outputs["a"], 0, pairs_file=pairs) == rows  # a rerun
    assert len(rows) == 20 and {r["fold"] for r in rows} == {0, 1}
    landmarks = alignment.read_landmark_file(os.path.join(outputs["a"], "landmarks.txt"))
    for row in rows:
        person = row["image"].rsplit("_", 1)[0]
        original = image_io.read_rgb(os.path.join(lfw, "images", person, row["image"] + ".jpg"))
        degraded = image_io.read_rgb(os.path.join(outputs["a"], "images", row["file"]))
        assert degraded.shape == original.shape and np.abs(degraded.astype(int) - original).mean() > 0.3
        assert row["file"] in landmarks  # the original's landmarks, for alignment
        assert row["level"] == str(degradations.level_of(row["kind"], row["severity"]))


def test_each_degradation_grows_with_severity():
    face = cv2.imread(os.path.join(shared_path("data", "lfw_raw250_subset"), "Colin_Powell", "Colin_Powell_0001.jpg"))
    face = cv2.cvtColor(face, cv2.COLOR_BGR2RGB)
    landmarks = alignment.read_landmark_file(shared_path("data", "lfw", "ldmark_lfw_mtcnncaffe.txt"))[
        "Colin_Powell/Colin_Powell_0001.jpg"]
    for kind in degradations.KINDS:
        errors = [np.abs(degradations.degrade(face, kind, s, landmarks, 0).astype(int) - face).mean()
                  for s in degradations.SEVERITIES]
        assert all(b > a for a, b in zip(errors, errors[1:])), (kind, errors)
    occluded = degradations.degrade(face, "occlusion", 4, landmarks, 2)
    x, y = np.round(landmarks[2]).astype(int)
    assert occluded[y, x].max() == 0  # the square covers the nose tip it was centred on


TINY_PEOPLE = ["George_W_Bush", "Colin_Powell", "Tony_Blair", "Donald_Rumsfeld", "Gerhard_Schroeder", "Ariel_Sharon",
               "Hugo_Chavez", "Junichiro_Koizumi", "Jean_Chretien", "John_Ashcroft", "Jacques_Chirac",
               "Serena_Williams", "Vladimir_Putin", "Luiz_Inacio_Lula_da_Silva", "Gloria_Macapagal_Arroyo",
               "Jennifer_Capriati", "Lleyton_Hewitt", "Laura_Bush", "Alejandro_Toledo", "Arnold_Schwarzenegger"]


def tiny_lfw(tmp_path):
    """An LFW folder in the real layout, 10 folds of 2 people x 4 images, 1 genuine + 1 impostor pair a fold."""
    import shutil  # pylint: disable=import-outside-toplevel
    lfw = shared_path("data", "lfw")
    root = tmp_path / "lfw"
    for person in TINY_PEOPLE:
        (root / "images" / person).mkdir(parents=True)
        for number in range(1, 5):
            name = "%s_%04d.jpg" % (person, number)
            shutil.copy(os.path.join(lfw, "images", person, name), str(root / "images" / person / name))
    shutil.copy(os.path.join(lfw, "ldmark_lfw_mtcnncaffe.txt"), str(root / "ldmark_lfw_mtcnncaffe.txt"))
    people, pairs = ["10"], ["10\t1"]
    for fold in range(10):
        a, b = TINY_PEOPLE[2 * fold], TINY_PEOPLE[2 * fold + 1]
        people += ["2", "%s\t4" % a, "%s\t4" % b]
        pairs += ["%s\t1\t2" % a, "%s\t3\t%s\t4" % (a, b)]
    (root / "people.txt").write_text("\n".join(people) + "\n")
    (root / "pairs.txt").write_text("\n".join(pairs) + "\n")
    return str(root)
