"""Cross-quality LFW photos: in each pairs.txt pair one side is degraded, by one kind of the generator
(faces/degradations.py) at one graded severity, before alignment.

For pair i (in pairs.txt order) a seeded draw picks the side (first or second image), the kind (Gaussian
blur, downscale-then-upscale, JPEG re-compression, occlusion), the severity (1..4) and, for occlusion, the
landmark the black square covers; the original photo is degraded before alignment, so its landmarks stay
valid. Output, byte-identical for a seed:
  images/<Person>/<Person>_<NNNN>_q<pair>.png   the degraded photos (PNG: no second compression)
  landmarks.txt                                 their landmark lines (the originals', in the same coordinates)
  degradations.csv                              pair,fold,side,image,kind,severity,level,occluded_point,file
data_prep/make_cross_quality_lfw.py is its command line; the lfw_folds experiments align and score them
(experiments/protocols/lfw_folds.py).
"""
import csv
import os

import cv2
import numpy as np

from pfe_estimator.data import pair_files
from pfe_estimator.faces import alignment
from pfe_estimator.faces import degradations
from pfe_estimator.faces import image_io
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import outputs

OUTPUT_KIND = "cross_quality_lfw"
CSV_NAME = "degradations.csv"
CSV_FIELDS = ("pair", "fold", "side", "image", "kind", "severity", "level", "occluded_point", "file")


def draw_protocol(pairs, seed):
    """The seeded choices for every pair: [{pair, fold, side, image, kind, severity, occluded_point}]."""
    rng = np.random.RandomState(seed)
    rows = []
    for index in range(len(pairs.same)):
        side = int(rng.randint(2))
        kind = degradations.KINDS[rng.randint(len(degradations.KINDS))]
        severity = int(degradations.SEVERITIES[rng.randint(len(degradations.SEVERITIES))])
        point = int(rng.randint(5))
        rows.append({"pair": index, "fold": int(pairs.fold[index]), "side": side,
                     "image": str((pairs.first, pairs.second)[side][index]), "kind": kind, "severity": severity,
                     "level": degradations.level_of(kind, severity),
                     "occluded_point": point if kind == "occlusion" else ""})
    return rows


def image_path(name):
    """LFW's relative path of an image name: Aaron_Peirsol_0001 -> Aaron_Peirsol/Aaron_Peirsol_0001.jpg."""
    return "%s/%s.jpg" % (name.rsplit("_", 1)[0], name)


def make_cross_quality(lfw_dir, output_dir, seed=0, landmark_image_size=(250, 250), overwrite=False,
                       pairs_file=None):
    """Writes the degraded photos, their landmarks and degradations.csv (kept as they are on a rerun of the
    same draws); returns the CSV rows (see read_rows).

    pairs_file: LFW-format pairs (default lfw_dir/pairs.txt).
    """
    pairs_file = pairs_file or os.path.join(lfw_dir, "pairs.txt")
    outputs.check_run_paths({"output_dir": output_dir}, {"lfw_dir": lfw_dir, "pairs_file": pairs_file})
    pairs = pair_files.read_lfw_pairs(pairs_file)
    landmarks = alignment.read_landmark_file(os.path.join(lfw_dir, "ldmark_lfw_mtcnncaffe.txt"))
    rows = draw_protocol(pairs, seed)
    fingerprint = {"pairs": outputs.file_digest(pairs_file), "seed": seed,
                   "levels": {k: list(v) for k, v in degradations.LEVELS.items()}}
    if outputs.claim_directory(output_dir, OUTPUT_KIND, "output_dir", fingerprint, overwrite) == "resume" and \
            os.path.exists(os.path.join(output_dir, CSV_NAME)):
        return read_rows(output_dir)  # an earlier run of the same draws finished
    landmark_lines = []
    for row in rows:
        source = image_path(row["image"])
        image = image_io.read_rgb(os.path.join(lfw_dir, "images", source))
        points = alignment.scale_landmarks(landmarks[source], landmark_image_size, image.shape[:2])
        degraded = degradations.degrade(image, row["kind"], row["severity"], points, row["occluded_point"] or 0)
        relative = "%s/%s_q%04d.png" % (source.split("/")[0], row["image"], row["pair"])
        target = os.path.join(output_dir, "images", relative)
        if not os.path.isdir(os.path.dirname(target)):
            os.makedirs(os.path.dirname(target))
        with atomic_files.writing(target) as temporary:
            cv2.imwrite(temporary, cv2.cvtColor(degraded, cv2.COLOR_RGB2BGR))
        row["file"] = relative
        original = landmarks[source]
        landmark_lines.append("%s %s" % (relative, " ".join("%.6f" % v for v in list(original[:, 0]) +
                                                            list(original[:, 1]))))
    atomic_files.write_text(os.path.join(output_dir, "landmarks.txt"), "\n".join(landmark_lines) + "\n")
    with atomic_files.writing(os.path.join(output_dir, CSV_NAME)) as temporary, open(temporary, "w", newline="") as f:
        writer = csv.DictWriter(f, CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return read_rows(output_dir)


def read_rows(output_dir):
    """degradations.csv as a list of dicts with ints where they are ints."""
    with open(os.path.join(output_dir, CSV_NAME), newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key in ("pair", "fold", "side", "severity"):
            row[key] = int(row[key])
    return rows
