"""Protocol files: LFW's pairs.txt and image names, template CSVs."""
import collections

import numpy as np

from pfe_estimator import errors


LfwPairs = collections.namedtuple("LfwPairs", ["first", "second", "same", "fold"])


def lfw_image_name(person, number):
    return "%s_%04d" % (person, int(number))


def person_of(name):
    """LFW's person of an image name: Aaron_Peirsol_0001 -> Aaron_Peirsol."""
    return name.rsplit("_", 1)[0]


def read_people_folds(path):
    """people.txt: a count of folds, then per fold a count and that many `name images` lines.

    Returns:
      list of sets of names.
    """
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    folds, position = [], 1
    for _ in range(int(lines[0][0])):
        count = int(lines[position][0])
        folds.append({fields[0] for fields in lines[position + 1:position + 1 + count]})
        position += 1 + count
    return folds


def read_lfw_pairs(path):
    """Reads LFW's pairs.txt: a header `folds pairs_per_class`, then per fold the genuine lines
    `name n1 n2` and the impostor lines `name1 n1 name2 n2`.

    Returns:
      LfwPairs of numpy arrays [P]: image names (e.g. Aaron_Peirsol_0001), same (bool), fold (int).

    Raises:
      ValueError: a malformed line, naming the file and line.
    """
    with open(path) as f:
        lines = [(number, line.split()) for number, line in enumerate(f, 1) if line.strip()]
    try:
        folds, per_class = [int(v) for v in lines[0][1]] if lines and len(lines[0][1]) == 2 else (None, None)
    except ValueError:
        folds = None
    if folds is None:
        raise errors.UserError("%s:1: expected a header `folds pairs_per_class` of two integers" % path)
    first, second, same, fold = [], [], [], []
    for index, (number, fields) in enumerate(lines[1:]):
        try:
            if len(fields) == 3:
                first.append(lfw_image_name(fields[0], fields[1]))
                second.append(lfw_image_name(fields[0], fields[2]))
                same.append(True)
            elif len(fields) == 4:
                first.append(lfw_image_name(fields[0], fields[1]))
                second.append(lfw_image_name(fields[2], fields[3]))
                same.append(False)
            else:
                raise ValueError("%d fields" % len(fields))
        except ValueError:
            raise errors.UserError("%s:%d: expected `name n1 n2` or `name1 n1 name2 n2` with integer image numbers, "
                                   "got %r" % (path, number, " ".join(fields)))
        fold.append(index // (2 * per_class))
    if len(first) != folds * 2 * per_class:
        raise errors.UserError("%s: %d pairs, the header promises %d" % (path, len(first), folds * 2 * per_class))
    return LfwPairs(np.array(first), np.array(second), np.array(same), np.array(fold))


def pair_indices(names, pairs):
    """Row indices of each pair's two images in `names`.

    Raises:
      ValueError: pairs name images that `names` lacks, listing them.
    """
    index = {name: i for i, name in enumerate(names)}
    missing = sorted({n for n in np.concatenate([pairs.first, pairs.second]) if n not in index})
    if missing:
        raise errors.UserError("%d image(s) named by the pairs are missing: %s%s" % (
            len(missing), ", ".join(missing[:20]), " ..." if len(missing) > 20 else ""))
    return (np.array([index[n] for n in pairs.first]), np.array([index[n] for n in pairs.second]))


def read_csv_rows(path, columns):
    """Rows of a CSV with the given number of columns; a header line (non-numeric last field) is skipped.

    Raises:
      ValueError: a row with another number of fields, naming file and line.
    """
    rows = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            fields = [field.strip() for field in line.rstrip("\n").split(",")]
            if len(fields) != columns:
                raise errors.UserError("%s:%d: expected %d comma-separated fields, got %d" % (path, number, columns,
                                                                                        len(fields)))
            rows.append(fields)
    if rows and columns == 3 and not rows[0][2].lstrip("-").isdigit():
        rows = rows[1:]
    elif rows and columns == 2 and rows[0][0].lower() in ("template_id", "template", "tid"):
        rows = rows[1:]
    return rows
