"""How far the released alignment (cp2tform) and Umeyama's fit put the same face apart, over a landmark file.

  python -m bench.alignment_methods --landmarks ../shared/data/lfw/ldmark_lfw_mtcnncaffe.txt [--template 112x96]

For every landmark set: the ratio of the two similarity scales, and how far each template point of the
cp2tform crop lands from the same image point in the Umeyama crop (pixels in the crop). Prints the median,
90th and 99th percentiles.
"""
import argparse

import numpy as np
from pfe_estimator.faces import alignment


def crop_differences(landmarks, template_name):
    """(relative scale difference [N], mean displacement in crop pixels [N]) of cp2tform vs Umeyama."""
    _, points = alignment.template(template_name)
    scales, shifts = [], []
    for face in landmarks:
        cp2tform = alignment.similarity_transform(face, points, "cp2tform")
        umeyama = alignment.similarity_transform(face, points, "umeyama")
        scales.append(abs(np.linalg.det(cp2tform[:, :2]) ** 0.5 / np.linalg.det(umeyama[:, :2]) ** 0.5 - 1))
        # where the image point that cp2tform puts on each template point lands in the Umeyama crop
        image_points = alignment.apply_transform(np.linalg.inv(np.vstack([cp2tform, [0, 0, 1]]))[:2], points)
        shifts.append(np.linalg.norm(alignment.apply_transform(umeyama, image_points) - points, axis=1).mean())
    return np.array(scales), np.array(shifts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--landmarks", required=True)
    parser.add_argument("--template", default="112x96")
    args = parser.parse_args()
    landmarks = list(alignment.read_landmark_file(args.landmarks).values())
    scales, shifts = crop_differences(landmarks, args.template)
    print("%d landmark sets, template %s: cp2tform vs umeyama" % (len(landmarks), args.template))
    for name, values, unit in (("scale difference", 100 * scales, "%"), ("landmark displacement", shifts, "px")):
        print("  %-22s median %.2f %s, p90 %.2f %s, p99 %.2f %s" % (
            name, np.median(values), unit, np.percentile(values, 90), unit, np.percentile(values, 99), unit))


if __name__ == "__main__":
    main()
