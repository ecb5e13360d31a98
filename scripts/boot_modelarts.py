"""ModelArts boot script: copy OBS data to /cache with moxing, train with run_1p.sh, copy results back.

  python scripts/boot_modelarts.py --data_url=obs://bucket/pfe/data --train_url=obs://bucket/pfe/output \
      [--pretrained_url=obs://bucket/pfe/sphere64_caisa_am] [-- extra main.py flags]

--data_url holds the TFRecords (manifest.json + shards); --pretrained_url, when given, is copied to
<cache>/data/pretrained, which run_1p.sh passes as --pretrained_ckpt. Results (checkpoints, log) are copied
to --train_url even when training fails. moxing exists only in ModelArts images. Only the arguments after
`--` go to main.py; other arguments the platform adds (e.g. --num_gpus, --init_method) are logged and
ignored.
"""
import argparse
import os
import subprocess
import sys


def import_moxing():
    """Returns moxing, or exits with a one-line error saying where it exists."""
    try:
        import moxing  # pylint: disable=import-outside-toplevel
    except ImportError:
        sys.exit("error: moxing is not installed: boot_modelarts.py runs inside a ModelArts training job; "
                 "elsewhere run scripts/run_1p.sh directly")
    return moxing


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_url", required=True, help="OBS folder of the TFRecords")
    parser.add_argument("--train_url", required=True, help="OBS folder for checkpoints and logs")
    parser.add_argument("--pretrained_url", default=None, help="OBS folder of the backbone checkpoint")
    parser.add_argument("--cache_dir", default="/cache", help="local working folder")
    argv = sys.argv[1:] if argv is None else argv
    ours, main_flags = (argv[:argv.index("--")], argv[argv.index("--") + 1:]) if "--" in argv else (argv, [])
    args, platform_flags = parser.parse_known_args(ours)
    if platform_flags:
        print("boot_modelarts: ignoring platform arguments %s (main.py flags go after --)" % " ".join(platform_flags))
    moxing = import_moxing()
    code_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    data_dir = os.path.join(args.cache_dir, "data")
    result_dir = os.path.join(args.cache_dir, "result")
    moxing.file.copy_parallel(args.data_url, data_dir)
    if args.pretrained_url:
        moxing.file.copy_parallel(args.pretrained_url, os.path.join(data_dir, "pretrained"))
    command = ["bash", os.path.join(code_dir, "scripts", "run_1p.sh"), code_dir, data_dir, result_dir,
               args.train_url] + main_flags
    try:
        status = subprocess.call(command)
    finally:
        if os.path.isdir(result_dir):
            moxing.file.copy_parallel(result_dir, args.train_url)
    return status


if __name__ == "__main__":
    sys.exit(main())
