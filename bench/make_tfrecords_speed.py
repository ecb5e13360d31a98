"""make_tfrecords on all of LFW: all cores against one process, same script, as a ratio.

  python -m bench.make_tfrecords_speed [--lfw_dir ../shared/data/lfw] [--rounds 2]

Runs alternate 1 process, N workers, 1, N, ...; medians and their ratio, and the median of the paired
per-round ratios, which cancels this host's drift between rounds (TensorFlow imported before the
first, so that no run pays the import). Every run writes the same records (the output is deterministic;
the script checks the shards are byte-equal, and with --reference against an earlier run's shards).
"""
import argparse
import filecmp
import glob
import os
import tempfile
import time
from pfe_estimator.faces import alignment
from pfe_estimator.data import record_writer


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--lfw_dir", default=os.path.join(os.path.dirname(here), "shared", "data", "lfw"))
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reference", default=None, help="records of the same settings made earlier (another "
                        "version): the shards must be byte-equal to these too")
    args = parser.parse_args()
    import tensorflow.compat.v1  # noqa: F401  # pylint: disable=import-outside-toplevel,unused-import
    # (make_tfrecords imports TensorFlow at its first run: imported here, no run pays it)
    root, identities = record_writer.list_identities(os.path.join(args.lfw_dir, "images"))
    landmarks = alignment.read_landmark_file(os.path.join(args.lfw_dir, "ldmark_lfw_mtcnncaffe.txt"))
    settings = record_writer.CropSettings("112x96", 95, (250, 250), "skip", None, 0.6)
    images = sum(len(p) for p in identities.values())
    outputs, seconds = {}, {1: [], args.workers: []}
    for _ in range(args.rounds):
        for workers in (1, args.workers):
            outputs[workers] = tempfile.mkdtemp(prefix="pfe_bench_tfr_%d_" % workers)
            start = time.perf_counter()
            record_writer.write_records(root, identities, landmarks, outputs[workers], settings, workers, 2000, 1,
                                          progress=False)
            seconds[workers].append(time.perf_counter() - start)
    rounds = seconds
    seconds = {workers: sorted(times)[len(times) // 2] for workers, times in rounds.items()}
    shards = sorted(os.path.basename(p) for p in glob.glob(os.path.join(outputs[1], "*.tfrecord")))
    equal = all(filecmp.cmp(os.path.join(outputs[1], s), os.path.join(outputs[args.workers], s), shallow=False)
                for s in shards)
    if args.reference:
        equal = equal and all(filecmp.cmp(os.path.join(outputs[1], s), os.path.join(args.reference, s), shallow=False)
                              for s in shards)
    print("make_tfrecords on LFW: %d images, %d identities, 112x96, JPEG q95" % (images, len(identities)))
    for workers in (1, args.workers):
        print("  %d worker(s): %6.1f s  %7.1f images/s  (rounds: %s s)" % (
            workers, seconds[workers], images / seconds[workers], ", ".join("%.1f" % t for t in rounds[workers])))
    ratios = [a / b for a, b in zip(rounds[1], rounds[args.workers])]
    print("  ratio per round (each 1-process run against the %d-worker run after it): %s; median %.2fx" % (
        args.workers, ", ".join("%.2fx" % r for r in ratios), sorted(ratios)[len(ratios) // 2]))
    print("  speed-up with %d workers: %.2fx; identical shards: %s%s" % (
        args.workers, seconds[1] / seconds[args.workers], equal, " (and to %s)" % args.reference if args.reference
        else ""))


if __name__ == "__main__":
    main()
