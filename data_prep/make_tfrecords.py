"""Face dataset -> 5-point aligned crops -> TFRecords of one record per identity + manifest.json.

  python -m data_prep.make_tfrecords --input_dir CASIA-WebFace --landmarks ldmark_casia.txt \
      --output_dir tfrecords/casia
  python -m data_prep.make_tfrecords --input_dir ../shared/data/lfw/images \
      --landmarks ../shared/data/lfw/ldmark_lfw_mtcnncaffe.txt --landmark_image_size=250,250 \
      --min_images_per_identity=1 --output_dir tfrecords/lfw

The command line of pfe_estimator/data/record_writer.py: input a folder per identity or a list file of
`path label` lines; every image aligned to the template by its 5 landmarks (from the landmark file, or
YuNet); one record per identity in shards with `.json` sidecars, and manifest.json (data/manifest.py). A
rerun of the same job resumes; images that cannot be used are skipped with a reason, never fatal.
"""
import os
import sys
import time

from absl import app
from absl import flags

if __package__ in (None, ""):  # run as `python data_prep/make_tfrecords.py`: the repository root on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pfe_estimator import errors  # noqa: E402
from pfe_estimator.data import manifest as manifests  # noqa: E402
from pfe_estimator.data import record_writer  # noqa: E402
from pfe_estimator.faces import alignment  # noqa: E402
from pfe_estimator.modes import flag_definitions  # noqa: E402
from pfe_estimator.storage import outputs  # noqa: E402

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("input_dir", None,
                        "Dataset root: one folder per identity (or the root of --list_file's paths).")
    flags.DEFINE_string("list_file", None, "Text file of `path label` lines, instead of the folder layout.")
    flags.DEFINE_string("landmarks", None, "5-point landmark file: `relative/path x1..x5 y1..y5` per line.")
    flags.DEFINE_list("landmark_image_size", None, "height,width the landmarks were given for (e.g. 250,250 for "
                      "LFW's landmarks on a resized copy); default: the image's own size.")
    flags.register_validator("landmark_image_size", lambda value: value is None or flag_definitions.image_size(value),
                             "must be two positive integers HEIGHT,WIDTH, e.g. 250,250")
    flags.DEFINE_enum("template", "112x96", sorted(alignment.TEMPLATES), "Alignment template.")
    flags.DEFINE_enum("alignment", "cp2tform", list(alignment.ALIGNMENT_METHODS), "Similarity fit: cp2tform (MATLAB's "
                      "nonreflective similarity, as the released PFE aligned its training data) or umeyama.")
    flags.DEFINE_enum("border", "black", sorted(alignment.BORDERS), "Fill outside the image: black (released) or "
                      "reflect.")
    flags.DEFINE_string("output_dir", None, "Output folder for shards and manifest.json.")
    flags.DEFINE_integer("num_workers", os.cpu_count() or 1, "Worker processes (1: in this process).", lower_bound=1)
    flags.DEFINE_integer("jpeg_quality", 95, "JPEG quality of the aligned crops.", lower_bound=1, upper_bound=100)
    flags.DEFINE_string("include_identities", None, "File of identity names to keep (one per line).")
    flags.DEFINE_string("exclude_identities", None, "File of identity names to drop (e.g. CASIA names in LFW).")
    flags.DEFINE_enum("missing_landmarks", "skip", ["skip", "detect"],
                      "Images without a landmark line: skip and count, or detect with YuNet.")
    flags.DEFINE_string("detector_model", None, "YuNet ONNX model for --missing_landmarks=detect "
                        "(face_detection_yunet_2023mar*.onnx).")
    flags.DEFINE_float("detector_score_threshold", 0.6, "YuNet score threshold.")
    flags.DEFINE_integer("min_images_per_identity", 2, "Identities with fewer usable images are skipped "
                         "(training needs 2; use 1 for evaluation sets such as LFW).", lower_bound=1)
    flags.DEFINE_integer("images_per_shard", 2000, "About this many images per shard file.", lower_bound=1)
    flags.DEFINE_float("max_skipped_fraction", 0.5, "Exit with an error (the records are kept) when more than this "
                       "fraction of the listed images was skipped: a wrong --landmarks or --landmark_image_size.",
                       lower_bound=0.0, upper_bound=1.0)
    flags.DEFINE_bool("overwrite", False, "Rebuild --output_dir when it holds another run's output (other inputs "
                      "or settings) or files this script did not write; without it such a folder is refused.")


def write(argv):
    """The tool's work: list, filter and align the images into --output_dir; one line on a user error."""
    del argv
    if not FLAGS.output_dir or not (FLAGS.input_dir or FLAGS.list_file):
        raise errors.UserError("give --output_dir and --input_dir or --list_file")
    if FLAGS.missing_landmarks == "detect" and not (FLAGS.detector_model and os.path.isfile(FLAGS.detector_model)):
        raise errors.UserError("--missing_landmarks=detect needs --detector_model=PATH to a YuNet .onnx file")
    outputs.check_run_paths({"output_dir": FLAGS.output_dir}, {flag: FLAGS[flag].value for flag in (
        "input_dir", "list_file", "landmarks", "include_identities", "exclude_identities", "detector_model")})
    root, listed = record_writer.list_identities(FLAGS.input_dir, FLAGS.list_file)
    include = record_writer.read_name_list(FLAGS.include_identities) if FLAGS.include_identities else None
    exclude = record_writer.read_name_list(FLAGS.exclude_identities) if FLAGS.exclude_identities else None
    identities = record_writer.filter_identities(listed, include, exclude)
    landmarks = alignment.read_landmark_file(FLAGS.landmarks) if FLAGS.landmarks else {}
    if include is not None or exclude is not None:  # the lines of identities the lists leave out: not ours to count
        landmarks = {path: points for path, points in landmarks.items() if path.split("/", 1)[0] in identities or
                     (include is None and path.split("/", 1)[0] not in exclude)}
    if not identities:
        raise errors.UserError("no identity to write: the input lists %d, --include_identities keeps %s, "
                               "--exclude_identities drops %s; check the input and the name lists"
                               % (len(listed), "all" if include is None else len(set(listed) & include),
                                  "none" if exclude is None else len(set(listed) & exclude)))
    landmark_size = tuple(int(v) for v in FLAGS.landmark_image_size) if FLAGS.landmark_image_size else None
    settings = record_writer.CropSettings(FLAGS.template, FLAGS.jpeg_quality, landmark_size, FLAGS.missing_landmarks,
                                          os.path.abspath(FLAGS.detector_model) if FLAGS.detector_model else None,
                                          FLAGS.detector_score_threshold, FLAGS.alignment, FLAGS.border)
    start = time.time()
    manifest = record_writer.write_records(root, identities, landmarks, FLAGS.output_dir, settings,
                                           FLAGS.num_workers, FLAGS.images_per_shard,
                                           FLAGS.min_images_per_identity, overwrite=FLAGS.overwrite)
    print(record_writer.summary_line(manifest, time.time() - start))
    problem = record_writer.skipped_problem(manifest, FLAGS.max_skipped_fraction)
    if problem:
        raise errors.UserError("%s; see the skipped list in %s" % (problem, manifests.path(FLAGS.output_dir)))


def main(argv):
    errors.run_script(lambda: write(argv), lambda: "--output_dir=%s keeps the shards it finished; rerun the "
                                                         "same command to resume" % FLAGS.output_dir)


if __name__ == "__main__":
    define_flags()
    app.run(main)
