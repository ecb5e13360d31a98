"""Face dataset -> 5-point aligned crops -> TFRecords of one record per identity and their manifest.

The library half of data_prep/make_tfrecords.py (the command-line tool) and of the experiments' aligned LFW.
Input: a folder per identity, or a list file of `path label` lines. Every image is decoded with OpenCV
(grayscale, alpha, 16-bit, PNG... are converted), its 5 landmarks come from the landmark file (rescaled
when given for another resolution) or from YuNet, it is warped onto the template and re-encoded as JPEG.
One record per identity (data/tfrecord_schema.py), identities in sorted order, in shards written under a
temporary name and renamed when complete, each with a `.json` sidecar; a rerun of the same job (the same
fingerprint: photos' bytes, landmarks, settings) skips the finished shards. Images that cannot be used are
skipped with a reason, never fatal.
"""
import collections
import contextlib
import json
import multiprocessing
import os
import signal

import cv2
import numpy as np

from pfe_estimator.data import manifest as manifests
from pfe_estimator.data import tfrecord_schema
from pfe_estimator.faces import alignment
from pfe_estimator.faces import image_io
from pfe_estimator import errors
from pfe_estimator.storage import atomic_files
from pfe_estimator.storage import model_dir_lock
from pfe_estimator.storage import outputs

SIDECAR_SUFFIX = ".json"
OUTPUT_KIND = "tfrecords"


class CropSettings(collections.namedtuple("CropSettings", [
        "template", "jpeg_quality", "landmark_image_size", "missing_landmarks", "detector_model",
        "detector_score_threshold", "alignment", "border"], defaults=("cp2tform", "black"))):
    """What decides the content of a crop; part of the run's fingerprint, so a rerun cannot mix two settings."""

    def as_json(self):
        return json.loads(json.dumps(self._asdict()))


def list_identities(input_dir=None, list_file=None):
    """Lists a dataset's images by identity.

    Args:
      input_dir: root folder with one sub-folder per identity (CASIA-WebFace / LFW layout); with list_file,
        the root its relative paths are taken from.
      list_file: text file of `path label` lines (label: identity name or number; paths with spaces are
        allowed, the label is the last field).

    Returns:
      (root, {identity: sorted [relative path]}) with identities in sorted order.
    """
    identities = collections.defaultdict(list)
    if list_file:
        root = input_dir or os.path.dirname(os.path.abspath(list_file))
        with open(list_file, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n").rsplit(None, 1)
                if len(parts) != 2:
                    raise errors.UserError("%s:%d: expected `path label`" % (list_file, number))
                path = parts[0].strip()
                if os.path.isabs(path):
                    path = os.path.relpath(path, root)
                identities[parts[1]].append(path.replace("\\", "/"))
    else:
        root = input_dir
        if not os.path.isdir(root):
            raise errors.UserError("%s: not a folder" % root)
        for identity in os.listdir(root):
            folder = os.path.join(root, identity)
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if not name.startswith(".") and os.path.isfile(os.path.join(folder, name)):
                        identities[identity].append(identity + "/" + name)
    return root, collections.OrderedDict((k, sorted(identities[k])) for k in sorted(identities))


def read_name_list(path):
    """Identity names, one per line (blank lines and '#' comments ignored)."""
    with open(path, encoding="utf-8") as f:
        return {line.strip() for line in f if line.strip() and not line.lstrip().startswith("#")}


def filter_identities(identities, include=None, exclude=None):
    """Keeps the identities in `include` (when given) and not in `exclude` (e.g. CASIA names overlapping LFW)."""
    return collections.OrderedDict(
        (name, paths) for name, paths in identities.items()
        if (include is None or name in include) and (exclude is None or name not in exclude))


def plan_shards(identities, images_per_shard):
    """Splits the sorted identities into contiguous shards of about images_per_shard images.

    Returns:
      list of lists of identity names; deterministic for the same input.
    """
    total = sum(len(paths) for paths in identities.values())
    count = max(1, int(np.ceil(total / float(images_per_shard))))
    count = min(count, max(1, len(identities)))
    shards = [[] for _ in range(count)]
    seen = 0
    for name, paths in identities.items():
        shards[min(count - 1, seen * count // max(total, 1))].append(name)
        seen += len(paths)
    return shards


def align_image(path, landmarks, settings):
    """Reads, checks and aligns one image.

    Args:
      path: the image file.
      landmarks: float [5, 2] from the landmark file (in landmark_image_size coordinates if that is set),
        or None.
      settings: CropSettings.

    Returns:
      JPEG bytes of the aligned crop.

    Raises:
      image_io.ImageError: with the reason and its kind.
    """
    image = image_io.read_rgb(path)
    (template_height, template_width), _ = alignment.template(settings.template)
    height, width = image.shape[:2]
    if height < template_height or width < template_width:
        raise image_io.ImageError("%s: %dx%d is smaller than the %s template" % (path, height, width,
                                                                                 settings.template), "too_small")
    if landmarks is None:
        if settings.missing_landmarks != "detect":
            raise image_io.ImageError("%s: no landmark line" % path, "no_landmarks")
        landmarks = alignment.detect_landmarks(image, settings.detector_model, settings.detector_score_threshold)
        if landmarks is None:
            raise image_io.ImageError("%s: no face detected" % path, "no_face_detected")
    elif settings.landmark_image_size:
        landmarks = alignment.scale_landmarks(landmarks, settings.landmark_image_size, (height, width))
    degenerate = alignment.degenerate_landmarks(landmarks)
    if degenerate:
        raise image_io.ImageError("%s: degenerate landmarks (%s)" % (path, degenerate), "degenerate_landmarks")
    if not alignment.landmarks_inside(landmarks, (height, width)):
        raise image_io.ImageError("%s: landmarks outside the %dx%d image" % (path, height, width),
                                  "landmarks_outside")
    crop, _ = alignment.align_face(image, landmarks, settings.template, settings.alignment, settings.border)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
    if not ok:
        raise image_io.ImageError("%s: JPEG encoding failed" % path, "encode_failed")
    return encoded.tobytes()


def process_identity(task):
    """Aligns one identity's images and serialises its record but for the label (runs in a worker process:
    the parent only numbers the identities it keeps and writes).

    Args:
      task: (identity, root, [relative path], {relative path: landmarks}, CropSettings).

    Returns:
      (identity, [relative path kept], tfrecord_schema.unlabelled_example's parts or None when none is
       kept, [(relative path, kind, reason)] skipped).
    """
    identity, root, paths, landmarks, settings = task
    kept, jpegs, skipped = [], [], []
    for relative in paths:
        try:
            jpegs.append(align_image(os.path.join(root, relative), landmarks.get(relative), settings))
            kept.append(relative)
        except image_io.ImageError as error:
            skipped.append((relative, error.kind, str(error).split(": ", 1)[-1]))
    (height, width), _ = alignment.template(settings.template)
    parts = tfrecord_schema.unlabelled_example(jpegs, kept, identity, height, width) if kept else None
    return identity, kept, parts, skipped


def one_blas_thread():
    """Keeps numpy's BLAS to one thread in this process (a worker, or a single-process run) and returns
    the threadpoolctl limits to restore, or None without threadpoolctl (then it stays as it is).

    Alignment's small least-squares and SVD calls wake OpenBLAS's threads, which then spin on the other
    cores: measured on LFW, a single-process run used 10-11 s of CPU in 5 s, and two workers fought four
    threads for two cores. With one thread the work is the same and the cores are free for the workers.
    """
    try:
        import threadpoolctl  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return threadpoolctl.threadpool_limits(1, user_api="blas")


def _worker_started():
    """A worker process: one BLAS thread, and Ctrl-C left to the parent (which stops the pool and says what
    was kept), so a terminal's interrupt prints one line, not one traceback per worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    one_blas_thread()


def _pool(num_workers):
    """The worker processes, forked with Ctrl-C ignored from their first instruction: a Ctrl-C while they
    start reaches only the parent (a worker interrupted before its initializer ran printed a traceback, and
    the pool's clean-up could then wait for it for ever)."""
    parent = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return multiprocessing.Pool(num_workers, initializer=_worker_started)
    finally:
        signal.signal(signal.SIGINT, parent)


def load_finished_shard(output_dir, name):
    """The sidecar of a finished shard, or None when the shard must be (re)written."""
    shard_path = os.path.join(output_dir, name)
    sidecar = shard_path + SIDECAR_SUFFIX
    if not (os.path.exists(shard_path) and os.path.exists(sidecar)):
        return None
    with open(sidecar, encoding="utf-8") as f:
        finished = json.load(f)
    if finished.get("bytes") != os.path.getsize(shard_path):
        return None
    return finished


def _file_digest(path):
    try:
        return outputs.file_digest(path)
    except OSError:
        return "missing"


def run_fingerprint(root, identities, landmarks, settings, images_per_shard, min_images_per_identity):
    """What decides the shards' content: the listed files (relative paths and bytes, not where they sit or
    when they were copied), their landmarks, the identities kept (after include/exclude lists), every
    setting. Equal fingerprints, equal shards."""
    paths = [path for name in identities for path in identities[name]]
    return {
        "identities": "%d %s" % (len(identities), outputs.text_digest(identities)),
        "images": "%d %s" % (len(paths), outputs.text_digest(
            "%s %s" % (path, _file_digest(os.path.join(root, path))) for path in paths)),
        "landmarks": outputs.text_digest("%s %s" % (path, np.round(landmarks[path], 3).tolist())
                                         for path in paths if path in landmarks),
        "settings": settings.as_json(),
        "images_per_shard": images_per_shard,
        "min_images_per_identity": min_images_per_identity,
    }


# Where a face's 5 landmarks centre across a data set, as a share of the image's width: near the middle
# (LFW's released landmarks: a median 0.504 of 250 px, 1-99 % of images 0.46-0.54).
LANDMARK_CENTRE_RANGE = (0.45, 0.55)


def check_landmark_scale(landmarks, paths, landmark_image_size):
    """Refuses a --landmark_image_size the landmarks were not given for, before any image is read: across the
    images the landmarks' median centre must fall near the middle of the width they claim (300,300 for
    landmarks given at 250x250 puts it at 42 %, and would misalign every crop without a skip)."""
    centres = [landmarks[path][:, 0].mean() for path in paths if path in landmarks]
    if len(centres) < 20:
        return
    share = float(np.median(centres)) / landmark_image_size[1]
    if not LANDMARK_CENTRE_RANGE[0] <= share <= LANDMARK_CENTRE_RANGE[1]:
        guess = int(round(2 * np.median(centres)))
        raise errors.UserError("--landmark_image_size=%d,%d: the landmarks centre at %.0f %% of that width across "
                               "the images, where faces centre near 50 %%; were they given for about %dx%d? check "
                               "--landmark_image_size" % (landmark_image_size[0], landmark_image_size[1],
                                                          100 * share, guess, guess))


def write_records(root, identities, landmarks, output_dir, settings, num_workers, images_per_shard,
                   min_images_per_identity, progress=True, overwrite=False):
    """Writes the shards (skipping those an interrupted run of the same job finished) and manifest.json.

    The output folder must be new, empty, or an earlier run's output with the same fingerprint (see
    run_fingerprint); anything else is refused (outputs.OutputError) unless `overwrite` clears it. The folder
    is locked for the run (model_dir_lock): a second run on it is refused while the first is alive.

    Returns:
      the manifest dict.
    """
    outputs.check_run_paths({"output_dir": output_dir}, {"input_dir": root})
    if settings.landmark_image_size:
        check_landmark_scale(landmarks, [p for paths in identities.values() for p in paths],
                             settings.landmark_image_size)

    def claim():
        fingerprint = run_fingerprint(root, identities, landmarks, settings, images_per_shard,
                                      min_images_per_identity)
        outputs.claim_directory(output_dir, OUTPUT_KIND, "output_dir", fingerprint, overwrite)
        return fingerprint

    try:
        lock = model_dir_lock.acquire(output_dir, "make_tfrecords")
    except OSError:  # a file there, or no way to create the folder: claim_directory names the reason
        claim()
        raise
    try:
        # --overwrite may clear the folder: claimed before its finished shards are read. Otherwise the
        # workers start first and the fingerprint and claim run while they align (they only read images;
        # nothing is written into output_dir before the claim, and a refused claim stops them).
        fingerprint = claim() if overwrite else None
        with _aligning(root, identities, landmarks, output_dir, settings, num_workers, images_per_shard,
                       progress) as work:
            fingerprint = fingerprint or claim()
            finished = _write_shards(work, output_dir, min_images_per_identity)
        return write_manifest(output_dir, finished, settings, root, landmarks, identities, fingerprint)
    finally:
        model_dir_lock.release(lock)


class _Work(collections.namedtuple("_Work", ["shards", "names", "finished", "results", "bar"])):
    """The shards planned, their names, the sidecars of those an earlier run finished, the workers'
    results in order (process_identity's, for the identities of the other shards), the progress bar."""


@contextlib.contextmanager
def _aligning(root, identities, landmarks, output_dir, settings, num_workers, images_per_shard, progress):
    """Starts aligning the identities of the shards not finished yet (in num_workers processes, or in this
    one) and yields a _Work; the workers stop when the block ends."""
    from tqdm import tqdm  # pylint: disable=import-outside-toplevel
    shards = plan_shards(identities, images_per_shard)
    names = [tfrecord_schema.shard_name(i, len(shards)) for i in range(len(shards))]
    finished = []
    for name in names:
        sidecar = load_finished_shard(output_dir, name)
        if sidecar is None:
            break
        finished.append(sidecar)
    remaining = [name for shard in shards[len(finished):] for name in shard]
    tasks = ((name, root, identities[name], {p: landmarks[p] for p in identities[name] if p in landmarks},
              settings) for name in remaining)
    # Workers with one OpenCV thread each (the workers already fill the cores, more threads only contend),
    # set before the fork: OpenCV's threading calls inside a forked child can deadlock.
    opencv_threads = cv2.getNumThreads()
    if num_workers > 1:
        cv2.setNumThreads(1)
    pool = _pool(num_workers) if num_workers > 1 else None
    blas_limits = None if pool else one_blas_thread()
    # 128 identities a message: the parent's share of the CPU (unpickling, waking per message) went from
    # 0.9 s to 0.7 s on LFW against 32, and the last message is still well under a second of work
    results = pool.imap(process_identity, tasks, chunksize=128) if pool else map(process_identity, tasks)
    bar = tqdm(total=sum(len(identities[n]) for n in remaining), unit="img", disable=not progress,
               desc="make_tfrecords", mininterval=1.0)
    try:
        yield _Work(shards, names, finished, results, bar)
    finally:
        bar.close()
        if pool:
            pool.terminate()
            cv2.setNumThreads(opencv_threads)
        if blas_limits:
            blas_limits.restore_original_limits()


def _write_shards(work, output_dir, min_images_per_identity):
    """Writes the unfinished shards from the workers' results, each under a temporary name then renamed,
    with its sidecar; returns every shard's sidecar (the earlier run's finished ones first)."""
    import tensorflow.compat.v1 as tf  # pylint: disable=import-outside-toplevel
    finished = list(work.finished)
    next_label = sum(len(s["identities"]) for s in finished)
    for index in range(len(finished), len(work.shards)):
        shard_path = os.path.join(output_dir, work.names[index])
        sidecar = {"file": work.names[index], "identities": [], "skipped": []}
        kept = "the %d shard(s) finished before it are kept: rerun the same command when there is room" % index
        with atomic_files.full_disk_named(shard_path, lambda: _removed(atomic_files.partial_path(shard_path), kept)):
            with tf.io.TFRecordWriter(atomic_files.partial_path(shard_path)) as writer:
                for _ in work.shards[index]:
                    identity, kept, parts, skipped = next(work.results)
                    work.bar.update(len(kept) + len(skipped))
                    sidecar["skipped"] += [list(s) for s in skipped]
                    if len(kept) < min_images_per_identity:
                        sidecar["skipped"] += [[path, "too_few_images", "identity %s has %d usable image(s), "
                                                "fewer than --min_images_per_identity=%d"
                                                % (identity, len(kept), min_images_per_identity)]
                                               for path in kept]
                        continue
                    writer.write(tfrecord_schema.labelled_example(parts, next_label))
                    sidecar["identities"].append([identity, next_label, len(kept)])
                    next_label += 1
            os.replace(atomic_files.partial_path(shard_path), shard_path)
        sidecar["bytes"] = os.path.getsize(shard_path)
        atomic_files.write_json(shard_path + SIDECAR_SUFFIX, sidecar)
        finished.append(sidecar)
    return finished


def _removed(path, kept):
    """Removes a partial file; returns `kept` (what a full disk leaves, for its message)."""
    if os.path.exists(path):
        os.remove(path)
    return kept


def write_manifest(output_dir, shards, settings, root, landmarks, identities, fingerprint):
    """Composes the folder's manifest (data/manifest.py) from the shards' sidecars; returns it."""
    (height, width), _ = alignment.template(settings.template)
    listed = {path for paths in identities.values() for path in paths}
    skipped = [{"path": p, "kind": k, "reason": r} for s in shards for p, k, r in s["skipped"]]
    manifest = {
        "source": os.path.abspath(root),
        "template": settings.template,
        "image_size": [height, width],
        "settings": settings.as_json(),
        "fingerprint": fingerprint,
        "num_identities": sum(len(s["identities"]) for s in shards),
        "num_images": sum(count for s in shards for _, _, count in s["identities"]),
        "num_skipped": len(skipped),
        "skipped_by_kind": dict(collections.Counter(s["kind"] for s in skipped)),
        "landmark_lines_without_file": sorted(set(landmarks) - listed),
        "shards": [{"file": s["file"], "identities": len(s["identities"]), "bytes": s["bytes"],
                    "images": sum(c for _, _, c in s["identities"])} for s in shards],
        "identities": [{"name": n, "label": label, "images": c} for s in shards for n, label, c in s["identities"]],
        "skipped": skipped,
    }
    manifests.write(output_dir, manifest)
    return manifest


def summary_line(manifest, seconds):
    kinds = ", ".join("%s %d" % kv for kv in sorted(manifest["skipped_by_kind"].items()))
    return ("make_tfrecords: wrote %d images of %d identities in %d shards in %.1f s; skipped %d%s; "
            "%d landmark line(s) without a file" % (
                manifest["num_images"], manifest["num_identities"], len(manifest["shards"]), seconds,
                manifest["num_skipped"], " (%s)" % kinds if kinds else "",
                len(manifest["landmark_lines_without_file"])))


# What to check when most images are skipped for one reason.
SKIP_HINTS = {
    "landmarks_outside": "were the landmarks given for another resolution? check --landmark_image_size (e.g. "
                         "250,250 for LFW's landmarks on resized copies)",
    "no_landmarks": "are --landmarks' paths relative to --input_dir, as `identity/file.jpg`?",
    "too_small": "the images are smaller than --template; use a smaller template",
    "too_large": "the image files declare sizes no face photo has; check the files",
}


def skipped_problem(manifest, max_skipped_fraction):
    """None, or one line when nothing was written or more than max_skipped_fraction of the listed images
    were skipped, naming the main reason and what to check."""
    written, skipped = manifest["num_images"], manifest["num_skipped"]
    if written and skipped <= max_skipped_fraction * (written + skipped):
        return None
    kinds = sorted(manifest["skipped_by_kind"].items(), key=lambda kv: (-kv[1], kv[0]))
    main_kind = kinds[0][0] if kinds else None
    return "wrote %d images, skipped %d (%s)%s%s" % (
        written, skipped, ", ".join("%s %d" % kv for kv in kinds) or "none",
        "" if not written else ", more than --max_skipped_fraction=%g" % max_skipped_fraction,
        "; %s" % SKIP_HINTS[main_kind] if main_kind in SKIP_HINTS else "")
