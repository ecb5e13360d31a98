"""SFace's outputs of degraded copies of record images, kept once per copy and shared by every protocol.

  WORK_DIR/copies/sface-<key of the records and SFace>/part-<digest>/{keys,features,mu,norm,sharpness}.npy

A copy is named by what decides its pixels: its image, kind, severity and draw (the seed and index of the
RandomState([seed, index]) its degradation drew from), `copy_key`. A part holds the copies one request had
to run (keys [P], features float16 [P, F], mu float32 [P, D], norm [P], sharpness [P]); it is built in a
hidden folder beside it (under the writers' lock, outputs.writer_lock) and renamed in whole, so a killed run
leaves only complete parts. A request reads the rows it needs from any part (memory-mapped: never a whole part
in memory) and runs SFace on the rest; the folder's key (the photos' fingerprint, SFace's file, precision and
whether XLA compiles it) keeps copies of other photos, another model or another precision apart: never mixed,
never reused.
"""
import glob
import os
import shutil

import numpy as np

from pfe_estimator.experiments import work_folder
from pfe_estimator.storage import outputs

ARRAYS = ("features", "mu", "norm", "sharpness")


def folder(work_dir, records, sface):
    """The store of copies of `records` (lfw_data.Records) through `sface` (lfw_data.Sface)."""
    return work_folder.path(work_dir, "copies", "sface", {"records": records.key, "sface": sface.key(),
                                                          "arrays": list(ARRAYS)})


def copy_key(name, kind, severity, seed, index):
    """One copy's key: 'Person/Person_0001.jpg|blur|3|0|17'."""
    return "%s|%s|%d|%d|%d" % (name, kind, int(severity), int(seed), int(index))


def held(store):
    """{copy key: (part folder, row)} of every complete part of the store (none when it does not exist)."""
    found = {}
    for part in sorted(glob.glob(os.path.join(store, "part-*"))):
        for row, key in enumerate(np.load(os.path.join(part, "keys.npy"))):
            found.setdefault(str(key), (part, row))
    return found


def add(store, keys, arrays):
    """Writes a part of copies `keys` [P] with their `arrays` ({name: [P, ...]} for each of ARRAYS)."""
    target = os.path.join(store, "part-%s" % work_folder.digest(list(keys))[:work_folder.DIGEST_LENGTH])
    with outputs.writer_lock(target, "copy store"):  # a run writing the same copies at once is refused
        if os.path.isdir(target):  # another run that drew the same copies wrote them first
            return
        root = outputs.staging_directory(target)
        try:
            staging = os.path.join(root, "part")
            os.makedirs(staging)
            np.save(os.path.join(staging, "keys.npy"), np.array(keys))
            for name in ARRAYS:
                np.save(os.path.join(staging, name + ".npy"), arrays[name])
            os.rename(staging, target)
        finally:
            shutil.rmtree(root, ignore_errors=True)


def read(store, keys, where=None):
    """{name: [P, ...]} of ARRAYS for copies `keys` [P], each held by a part of the store (`where`: held(store),
    read again when not given). Memory holds the result only: the parts are memory-mapped, their rows copied."""
    where = held(store) if where is None else where
    rows_of = {}
    for position, key in enumerate(keys):
        part, row = where[key]
        rows_of.setdefault(part, ([], []))
        rows_of[part][0].append(position)
        rows_of[part][1].append(row)
    result = {}
    for part, (positions, rows) in sorted(rows_of.items()):
        for name in ARRAYS:
            values = np.load(os.path.join(part, name + ".npy"), mmap_mode="r")
            if name not in result:
                result[name] = np.empty((len(keys),) + values.shape[1:], values.dtype)
            result[name][positions] = values[rows]
    return result
