"""Cross-quality LFW: in each pairs.txt pair one side is degraded, by one kind at one graded severity.

  python -m data_prep.make_cross_quality_lfw --lfw_dir ../shared/data/lfw --output_dir runs/lfw_cross_quality

The command line of pfe_estimator/experiments/cross_quality_photos.py (the draws, the output's layout):
degraded photos, their landmarks and degradations.csv, byte-identical for a seed. Align them as LFW:
data_prep/make_tfrecords.py --input_dir OUTPUT/images --landmarks OUTPUT/landmarks.txt
--landmark_image_size=250,250 --min_images_per_identity=1 ... (the lfw_folds experiments with cross_quality
do all of it: configs/lfw_sface_cross_quality.py).
"""
import os
import sys

from absl import app
from absl import flags

if __package__ in (None, ""):  # run as `python data_prep/make_cross_quality_lfw.py`: the repository root on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pfe_estimator.experiments import cross_quality_photos  # noqa: E402


FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        rows = cross_quality_photos.make_cross_quality(FLAGS.lfw_dir, FLAGS.output_dir, FLAGS.seed,
                                                       overwrite=FLAGS.overwrite)
    except (ValueError, IOError, OSError) as error:
        sys.exit("error: %s" % error)
    print("make_cross_quality_lfw: %d pairs, one side degraded each -> %s" % (len(rows), FLAGS.output_dir))


if __name__ == "__main__":
    flags.DEFINE_string("lfw_dir", None, "LFW folder: images/, ldmark_lfw_mtcnncaffe.txt, pairs.txt.")
    flags.DEFINE_string("output_dir", None, "Output folder.")
    flags.DEFINE_integer("seed", 0, "Seed of the draws.")
    flags.DEFINE_bool("overwrite", False, "Rebuild an --output_dir made with another seed or pairs file.")
    flags.mark_flags_as_required(["lfw_dir", "output_dir"])
    app.run(main)
