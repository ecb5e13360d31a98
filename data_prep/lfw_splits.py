"""Identity-disjoint splits of LFW by its people.txt folds, for training a head on LFW with main.py's modes.

  python -m data_prep.lfw_splits --lfw_dir ../shared/data/lfw --output_dir runs/lfw_splits \
      --train_folds 3,4,5,6 --test_folds 1,2 --calibration_folds 10

writes into --output_dir: train_people.txt (the train folds' people with at least --min_train_images
photos), test_people.txt and calibration_people.txt (every person of those folds: single-photo people
appear in impostor pairs), test_pairs.txt and calibration_pairs.txt (pairs.txt's lines of those folds, in
its format). The people lists are make_tfrecords' --include_identities; the pairs files are eval's
--lfw_pairs and train's or calibrate's --calibration_pairs. Folds are numbered 1-10 as LFW's README does;
pairs.txt's fold k is drawn from people.txt's fold k, so the three parts share no person (checked).
"""
import os
import sys

from absl import app
from absl import flags

if __package__ in (None, ""):  # run as `python data_prep/lfw_splits.py`: the repository root on the path
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pfe_estimator import errors  # noqa: E402
from pfe_estimator.evaluation import identity_folds  # noqa: E402
from pfe_estimator.data import pair_files  # noqa: E402
from pfe_estimator.storage import atomic_files  # noqa: E402
from pfe_estimator.storage import outputs  # noqa: E402

FLAGS = flags.FLAGS
OUTPUT_KIND = "lfw_splits"


def folds_of(flag):
    """The 0-based folds of a --*_folds flag's 1-based list."""
    try:
        folds = [int(k) - 1 for k in FLAGS[flag].value]
    except ValueError:
        folds = []
    if not folds or any(k < 0 or k > 9 for k in folds):
        raise errors.UserError("--%s=%s: expected folds among 1-10" % (flag, ",".join(FLAGS[flag].value)))
    return folds


def pair_lines(path, folds):
    """pairs.txt's lines of `folds` (0-based) under a header for that many folds."""
    pair_files.read_lfw_pairs(path)  # validated first: a malformed file is one line naming its line
    lines = [line for line in open(path, encoding="utf-8").read().splitlines() if line.strip()]
    per = int(lines[0].split()[1])
    body = lines[1:]
    kept = [line for k in folds for line in body[k * 2 * per:(k + 1) * 2 * per]]
    return ["%d\t%d" % (len(folds), per)] + kept


def main(argv):
    del argv
    outputs.check_run_paths({"output_dir": FLAGS.output_dir}, {"lfw_dir": FLAGS.lfw_dir})
    pairs_file, people_file = (os.path.join(FLAGS.lfw_dir, name) for name in ("pairs.txt", "people.txt"))
    parts = {name: folds_of(name + "_folds") for name in ("train", "test", "calibration")}
    used = [k for folds in parts.values() for k in folds]
    if len(set(used)) != len(used):
        raise errors.UserError("--train_folds, --test_folds and --calibration_folds share a fold; give each "
                               "fold to one part")
    people = pair_files.read_people_folds(people_file)
    identity_folds.check_folds(pair_files.read_lfw_pairs(pairs_file), people, pairs_file, people_file)
    images = os.path.join(FLAGS.lfw_dir, "images")
    counts = {person: len(os.listdir(os.path.join(images, person))) if os.path.isdir(os.path.join(images, person))
              else 0 for folds in people for person in folds}
    texts = {"train_people.txt": sorted(p for k in parts["train"] for p in people[k]
                                        if counts[p] >= FLAGS.min_train_images),
             "test_people.txt": sorted(p for k in parts["test"] for p in people[k]),
             "calibration_people.txt": sorted(p for k in parts["calibration"] for p in people[k])}
    if parts["test"]:
        texts["test_pairs.txt"] = pair_lines(pairs_file, parts["test"])
    if parts["calibration"]:
        texts["calibration_pairs.txt"] = pair_lines(pairs_file, parts["calibration"])
    with outputs.replacing_directory(FLAGS.output_dir, OUTPUT_KIND, "output_dir",
                                     overwrite=FLAGS.overwrite) as staging:
        os.makedirs(staging)
        for name, lines in texts.items():
            atomic_files.write_text(os.path.join(staging, name), "\n".join(lines) + "\n")
    for name in sorted(texts):
        print("%-24s %5d lines" % (name, len(texts[name])))


if __name__ == "__main__":
    flags.DEFINE_string("lfw_dir", None, "LFW folder: images/, pairs.txt, people.txt.")
    flags.DEFINE_string("output_dir", None, "Output folder for the people lists and pairs files.")
    flags.DEFINE_list("train_folds", ["3", "4", "5", "6", "7", "8", "9"], "people.txt folds (1-10) to train on.")
    flags.DEFINE_list("test_folds", ["1", "2"], "Folds whose pairs.txt pairs are the test.")
    flags.DEFINE_list("calibration_folds", ["10"], "Folds whose pairs calibrate P(same) (people never trained on).")
    flags.DEFINE_integer("min_train_images", 2, "Train only on people with at least this many photos.", lower_bound=1)
    flags.DEFINE_bool("overwrite", False, "Replace an --output_dir that holds something else.")
    flags.mark_flags_as_required(["lfw_dir", "output_dir"])
    errors.run_script(lambda: app.run(main), lambda: "nothing was written")
