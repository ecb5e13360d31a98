"""A procedural face dataset for the built-in demo: identities you can tell apart, images you can degrade.

  python -m data_prep.make_demo_faces --output_dir demo/faces --train_identities 200 --test_identities 100

Every identity is a random draw of face shape, skin, hair, eye, brow, nose and mouth geometry and colour
(and glasses or a beard for some). Every image of it varies in pose (rotation, scale, shift) and lighting,
then gets one degradation of a recorded, random severity in [0, 1]: Gaussian blur, noise, downscaling or an
occluding patch (a quarter of the images stay clean). Output, laid out as CASIA-WebFace / LFW are so it
flows through data_prep/make_tfrecords.py unchanged:

  train/<identity>/<identity>_0001.jpg ...    identities for (pre)training
  test/<identity>/<identity>_0001.jpg ...     held-out identities for evaluation
  landmarks.txt      `relative/path x1..x5 y1..y5` (eyes, nose, mouth corners), for both folders
  degradations.csv   path,kind,severity,parameter
  pairs.txt          LFW format over the test identities (10 folds of genuine + impostor pairs)

The same --seed gives byte-identical output. The folder is built whole beside its target and swapped in;
a rerun with the same settings keeps it as it is (so the files' times, which make_tfrecords' fingerprint
reads, stay too), one with other settings rebuilds it, and a folder this tool did not write is refused.
"""
import csv
import os
import sys

from absl import app
from absl import flags
import cv2
import numpy as np

if __package__ in (None, ""):  # run as `python data_prep/make_demo_faces.py`: the repository root on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pfe_estimator import errors  # noqa: E402
from pfe_estimator.storage import atomic_files  # noqa: E402
from pfe_estimator.storage import outputs  # noqa: E402

OUTPUT_KIND = "demo_faces"
IMAGE_SIZE = 128
DEGRADATIONS = ("clean", "blur", "noise", "downscale", "occlusion")


# Colours come from small shared palettes (with a little jitter), so that identities differ mostly in
# geometry and fine detail, which blur, noise and downscaling destroy, rather than in flat colour.
SKIN_TONES = np.array([[80, 110, 160], [110, 150, 200], [140, 175, 225], [60, 85, 125]], np.float64)
HAIR_COLOURS = np.array([[20, 20, 25], [40, 70, 110], [150, 150, 150], [30, 50, 70]], np.float64)
IRIS_COLOURS = np.array([[60, 40, 20], [140, 110, 40], [40, 90, 40], [30, 30, 30]], np.float64)


def identity_parameters(rng):
    """The random traits of one identity (a dict of numbers and BGR colours)."""
    skin = SKIN_TONES[rng.randint(len(SKIN_TONES))] + rng.uniform(-8, 8, 3)
    return {
        "skin": skin,
        "face_axes": (rng.uniform(34, 44), rng.uniform(44, 54)),
        "hair": HAIR_COLOURS[rng.randint(len(HAIR_COLOURS))] + rng.uniform(-8, 8, 3),
        "hairline": rng.uniform(0.15, 0.45),
        "eye_spacing": rng.uniform(24, 36), "eye_y": rng.uniform(-10, 0), "eye_size": rng.uniform(3.5, 7),
        "iris": IRIS_COLOURS[rng.randint(len(IRIS_COLOURS))], "brow_slant": rng.uniform(-0.35, 0.35),
        "brow_thickness": int(rng.randint(1, 5)),
        "nose_length": rng.uniform(10, 20), "nose_width": rng.uniform(4, 10),
        "mouth_y": rng.uniform(26, 36), "mouth_width": rng.uniform(16, 32),
        "lips": skin * rng.uniform(0.55, 0.8) + [0, 0, 40],
        "glasses": rng.uniform() < 0.25, "beard": rng.uniform() < 0.2,
    }


def canonical_landmarks(traits):
    """(x, y) of left eye, right eye, nose tip, left and right mouth corners, float [5, 2], in the upright
    face centred on the canvas."""
    centre = IMAGE_SIZE / 2.0
    eye_y = centre + traits["eye_y"]
    half = traits["eye_spacing"] / 2
    nose_y = eye_y + traits["nose_length"]
    mouth_y = centre + traits["mouth_y"] * 0.8
    mouth_half = traits["mouth_width"] / 2
    return np.array([[centre - half, eye_y], [centre + half, eye_y], [centre, nose_y],
                     [centre - mouth_half, mouth_y], [centre + mouth_half, mouth_y]])


def draw_face(traits, background):
    """The identity's upright face on a plain background colour: uint8 [128, 128, 3] BGR."""
    image = np.empty((IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    image[:] = background
    centre = (IMAGE_SIZE // 2, IMAGE_SIZE // 2 + 4)
    axes = tuple(int(a) for a in traits["face_axes"])
    cv2.ellipse(image, (centre[0], centre[1] - int(axes[1] * traits["hairline"])), (axes[0] + 4, axes[1]), 0, 180, 360,
                traits["hair"].tolist(), -1, cv2.LINE_AA)
    cv2.ellipse(image, centre, axes, 0, 0, 360, traits["skin"].tolist(), -1, cv2.LINE_AA)
    if traits["beard"]:
        cv2.ellipse(image, centre, axes, 0, 20, 160, traits["hair"].tolist(), 7, cv2.LINE_AA)
    points = canonical_landmarks(traits)
    for index, (x, y) in enumerate(points[:2]):
        size = traits["eye_size"]
        cv2.ellipse(image, (int(x), int(y)), (int(size * 1.6), int(size)), 0, 0, 360, (245, 245, 245), -1, cv2.LINE_AA)
        cv2.circle(image, (int(x), int(y)), int(size * 0.8), traits["iris"].tolist(), -1, cv2.LINE_AA)
        slant = traits["brow_slant"] * (1 if index == 0 else -1)
        brow_y = y - size - 5
        cv2.line(image, (int(x - 8), int(brow_y + 8 * slant)), (int(x + 8), int(brow_y - 8 * slant)),
                 (traits["hair"] * 0.6).tolist(), traits["brow_thickness"], cv2.LINE_AA)
        if traits["glasses"]:
            cv2.circle(image, (int(x), int(y)), int(size * 2.2), (30, 30, 30), 2, cv2.LINE_AA)
    nose_x, nose_y = points[2]
    eye_y = points[0][1]
    nose = np.array([[nose_x, eye_y + 4], [nose_x - traits["nose_width"], nose_y],
                     [nose_x + traits["nose_width"], nose_y]])
    cv2.fillPoly(image, [nose.astype(np.int32)], (traits["skin"] * 0.8).tolist(), cv2.LINE_AA)
    mouth = points[3:]
    cv2.ellipse(image, (int(nose_x), int(mouth[0][1])), (int(traits["mouth_width"] / 2), 4), 0, 0, 180,
                traits["lips"].tolist(), -1, cv2.LINE_AA)
    return image


def pose_and_light(face, landmarks, rng):
    """Random rotation (+-12 deg), scale (0.9-1.1), shift (+-6 px) and a lighting gradient.

    Returns:
      (uint8 image, float [5, 2] landmarks moved with it).
    """
    angle = rng.uniform(-12, 12)
    scale = rng.uniform(0.9, 1.1)
    matrix = cv2.getRotationMatrix2D((IMAGE_SIZE / 2.0, IMAGE_SIZE / 2.0), angle, scale)
    matrix[:, 2] += rng.uniform(-6, 6, 2)
    image = cv2.warpAffine(face, matrix, (IMAGE_SIZE, IMAGE_SIZE), borderMode=cv2.BORDER_REPLICATE)
    moved = landmarks @ matrix[:, :2].T + matrix[:, 2]
    direction = rng.uniform(-1, 1, 2)
    ys, xs = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / float(IMAGE_SIZE) - 0.5
    light = rng.uniform(0.75, 1.25) * (1.0 + 0.5 * (direction[0] * xs + direction[1] * ys))
    return np.clip(image * light[:, :, None], 0, 255).astype(np.uint8), moved


def degrade(image, landmarks, kind, severity, rng):
    """Applies one degradation of severity in [0, 1]; returns (image, the kind's own parameter)."""
    if kind == "blur":
        sigma = 0.5 + 4.5 * severity
        return cv2.GaussianBlur(image, (0, 0), sigma), sigma
    if kind == "noise":
        std = 4 + 46 * severity
        return np.clip(image + rng.normal(0, std, image.shape), 0, 255).astype(np.uint8), std
    if kind == "downscale":
        factor = 1.5 + 8.5 * severity
        small = cv2.resize(image, (int(IMAGE_SIZE / factor), int(IMAGE_SIZE / factor)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_LINEAR), factor
    if kind == "occlusion":
        fraction = 0.15 + 0.45 * severity
        side = int(IMAGE_SIZE * np.sqrt(fraction) * 0.8)
        x, y = landmarks[rng.randint(5)]
        x0 = int(np.clip(x - side / 2, 0, IMAGE_SIZE - side))
        y0 = int(np.clip(y - side / 2, 0, IMAGE_SIZE - side))
        occluded = image.copy()
        occluded[y0:y0 + side, x0:x0 + side] = rng.uniform(0, 255, 3)
        return occluded, fraction
    return image, 0.0


def make_image(traits, rng):
    """One image of an identity, on a random background: (uint8 BGR image, landmarks [5, 2], kind, severity,
    parameter)."""
    face = draw_face(traits, rng.uniform(0, 255, 3))
    image, landmarks = pose_and_light(face, canonical_landmarks(traits), rng)
    kind = DEGRADATIONS[rng.randint(len(DEGRADATIONS))]
    severity = 0.0 if kind == "clean" else float(rng.uniform())
    image, parameter = degrade(image, landmarks, kind, severity, rng)
    return image, landmarks, kind, severity, parameter


def lfw_pairs_lines(test_identities, images_per_identity, rng, folds=10, pairs_per_fold=30):
    """pairs.txt lines over the test identities: identities split into `folds` groups, each fold's
    genuine and impostor pairs drawn within its group."""
    if len(test_identities) < 2 * folds:
        raise errors.UserError("--test_identities=%d: the %d-fold pairs need at least %d (2 per fold)"
                         % (len(test_identities), folds, 2 * folds))
    groups = np.array_split(np.array(test_identities), folds)
    lines = ["%d\t%d" % (folds, pairs_per_fold)]
    for group in groups:
        for _ in range(pairs_per_fold):
            first, second = rng.choice(images_per_identity, 2, replace=False) + 1
            lines.append("%s\t%d\t%d" % (group[rng.randint(len(group))], first, second))
        for _ in range(pairs_per_fold):
            a, b = rng.choice(len(group), 2, replace=False)
            lines.append("%s\t%d\t%s\t%d" % (group[a], rng.randint(images_per_identity) + 1, group[b],
                                               rng.randint(images_per_identity) + 1))
    return lines


def make_demo_faces(output_dir, train_identities, test_identities, images_per_identity, seed=0, jpeg_quality=95):
    """Writes the dataset (see the module docstring) unless output_dir already holds it with these settings.

    Returns:
      ({'train': [...], 'test': [...]} identity names, whether the folder was (re)written).

    Raises:
      outputs.OutputError: output_dir holds something this tool did not write.
      ValueError: too few test identities for the pairs.
    """
    names = {"train": ["id%05d" % i for i in range(train_identities)],
             "test": ["id%05d" % i for i in range(train_identities, train_identities + test_identities)]}
    lfw_pairs_lines(names["test"], images_per_identity, np.random.RandomState(seed))  # refuses too few, first
    fingerprint = {"train_identities": train_identities, "test_identities": test_identities,
                   "images_per_identity": images_per_identity, "seed": seed, "jpeg_quality": jpeg_quality}
    marker = outputs.read_marker(output_dir)
    if marker and marker.get("kind") == OUTPUT_KIND and marker.get("fingerprint") == fingerprint:
        return names, False
    with outputs.replacing_directory(output_dir, OUTPUT_KIND, "output_dir", fingerprint) as staging:
        _write_demo_faces(staging, names, images_per_identity, seed, jpeg_quality)
    return names, True


def _write_demo_faces(output_dir, names, images_per_identity, seed, jpeg_quality):
    """Writes the images, landmarks.txt, degradations.csv and pairs.txt into the new folder output_dir."""
    rng = np.random.RandomState(seed)
    landmark_lines, degradation_rows = [], []
    for split in ("train", "test"):
        for name in names[split]:
            identity_rng = np.random.RandomState([seed, int(name[2:])])
            traits = identity_parameters(identity_rng)
            folder = os.path.join(output_dir, split, name)
            if not os.path.isdir(folder):
                os.makedirs(folder)
            for number in range(1, images_per_identity + 1):
                image, landmarks, kind, severity, parameter = make_image(traits, identity_rng)
                relative = "%s/%s_%04d.jpg" % (name, name, number)
                ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
                assert ok
                with open(os.path.join(output_dir, split, relative), "wb") as f:
                    f.write(encoded.tobytes())
                landmark_lines.append(relative + " " + " ".join(
                    "%.3f" % v for v in list(landmarks[:, 0]) + list(landmarks[:, 1])))
                degradation_rows.append([split + "/" + relative, kind, "%.4f" % severity, "%.4f" % parameter])
    atomic_files.write_text(os.path.join(output_dir, "landmarks.txt"), "\n".join(landmark_lines) + "\n")
    with atomic_files.writing(os.path.join(output_dir, "degradations.csv")) as temporary, \
            open(temporary, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "kind", "severity", "parameter"])
        writer.writerows(degradation_rows)
    pairs = lfw_pairs_lines(names["test"], images_per_identity, rng)
    atomic_files.write_text(os.path.join(output_dir, "pairs.txt"), "\n".join(pairs) + "\n")


FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("output_dir", "demo_run/faces", "Output folder.")
    flags.DEFINE_integer("train_identities", 200, "Identities for training.", lower_bound=1)
    flags.DEFINE_integer("test_identities", 100, "Held-out identities for the pairs (at least 20).", lower_bound=1)
    flags.DEFINE_integer("images_per_identity", 10, "Images per identity.", lower_bound=2)
    flags.DEFINE_integer("seed", 0, "Random seed; the same seed gives the same bytes.")


def main(argv):
    del argv
    try:
        names, written = make_demo_faces(FLAGS.output_dir, FLAGS.train_identities, FLAGS.test_identities,
                                         FLAGS.images_per_identity, FLAGS.seed)
    except (ValueError, OSError) as error:
        sys.exit("error: %s" % error)
    print("make_demo_faces: %d training and %d test identities x %d images %s %s" % (
        len(names["train"]), len(names["test"]), FLAGS.images_per_identity,
        "->" if written else "already in", FLAGS.output_dir))


if __name__ == "__main__":
    define_flags()
    app.run(main)
