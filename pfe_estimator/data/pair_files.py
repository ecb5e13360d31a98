"""The files that name pairs and folds: LFW's pairs.txt and people.txt (and its image names), anyone's pairs
CSV, template CSVs; each bad line named."""
import collections

import numpy as np

from pfe_estimator import errors


LfwPairs = collections.namedtuple("LfwPairs", ["first", "second", "same", "fold"])
# A pairs CSV (--pairs_csv): `image_a,image_b,same` lines, its line numbers kept for messages.
PairList = collections.namedtuple("PairList", ["first", "second", "same", "line"])
PAIRS_CSV_HEADER = ("image_a", "image_b", "same")


def lfw_image_name(person, number):
    return "%s_%04d" % (person, int(number))


def person_of(name):
    """LFW's person of an image name: Aaron_Peirsol_0001 -> Aaron_Peirsol."""
    return name.rsplit("_", 1)[0]


def _lines(path, what):
    """(line number, fields) of a protocol file's non-blank lines; a file that is not text is one line."""
    try:
        with open(path, encoding="utf-8") as f:
            return [(number, line.split()) for number, line in enumerate(f, 1) if line.strip()]
    except UnicodeDecodeError:
        raise errors.UserError("%s: not a text file; give %s" % (path, what))


def _count(path, number, fields, what):
    """A positive integer count that a protocol file's line `number` must be (its only field)."""
    try:
        value = int(fields[0]) if len(fields) == 1 else 0
    except ValueError:
        value = 0
    if value < 1:
        raise errors.UserError("%s:%d: expected %s, a positive integer, got %r" % (path, number, what,
                                                                                  " ".join(fields)))
    return value


def read_lfw_pairs(path):
    """Reads LFW's pairs.txt: a header `folds pairs_per_class` (View 2; a single count for View 1's
    pairsDevTest.txt, one fold), then per fold the genuine lines `name n1 n2` and the impostor lines
    `name1 n1 name2 n2`.

    Returns:
      LfwPairs of numpy arrays [P]: image names (e.g. Aaron_Peirsol_0001), same (bool), fold (int).

    Raises:
      UserError: not a text file, a malformed header or line, a count the lines do not give, or no genuine
        or no impostor pair, naming the file and line.
    """
    lines = _lines(path, "LFW's pairs.txt format")
    header = lines[0][1] if lines else []
    try:
        folds, per_class = ([1] + [int(v) for v in header]) if len(header) == 1 else [int(v) for v in header]
    except ValueError:
        folds = per_class = 0
    if len(header) not in (1, 2) or folds < 1 or per_class < 1:
        raise errors.UserError("%s:1: expected a header `folds pairs_per_class` of two positive integers (or one "
                               "count), got %r" % (path, " ".join(header)))
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
                                   "got %r" % (path, number, " ".join(fields)[:200]))
        fold.append(index // (2 * per_class))
    if len(first) != folds * 2 * per_class:
        raise errors.UserError("%s: %d pairs, the header promises %d" % (path, len(first), folds * 2 * per_class))
    same = np.array(same)
    if same.all() or not same.any():
        raise errors.UserError("%s: no %s pair: a protocol needs genuine and impostor pairs" % (
            path, "impostor" if same.all() else "genuine"))
    return LfwPairs(np.array(first), np.array(second), same, np.array(fold))


def read_people_folds(path):
    """people.txt: a count of folds, then per fold a count and that many `name images` lines.

    Returns:
      list of sets of names.

    Raises:
      UserError: not a text file, a malformed count or line, or a person in two folds, naming the line.
    """
    lines = _lines(path, "LFW's people.txt format")
    if not lines:
        raise errors.UserError("%s: empty; give LFW's people.txt" % path)
    folds, position, seen = [], 1, {}
    for k in range(_count(path, lines[0][0], lines[0][1], "the number of folds")):
        if position >= len(lines):
            raise errors.UserError("%s: %d folds, the first line promises %d" % (path, k, len(folds) or k))
        count = _count(path, lines[position][0], lines[position][1], "the number of people of fold %d" % (k + 1))
        people = set()
        for number, fields in lines[position + 1:position + 1 + count]:
            if len(fields) != 2 or not fields[1].isdigit():
                raise errors.UserError("%s:%d: expected `name images`, got %r" % (path, number, " ".join(fields)))
            if fields[0] in seen:
                raise errors.UserError("%s:%d: %s is in fold %d already" % (path, number, fields[0], seen[fields[0]]))
            seen[fields[0]] = k + 1
            people.add(fields[0])
        folds.append(people)
        position += 1 + count
    return folds


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


def read_pairs_csv(path):
    """Reads a pairs CSV: `image_a,image_b,same` lines (same 1 or 0, also true/false or yes/no), an optional
    header line naming the columns, blank lines skipped.

    Returns:
      PairList of numpy arrays [P]: the two images as written, same (bool), the line number.

    Raises:
      UserError: a line that is not such a pair, or a file without a genuine and an impostor pair, naming
        the file and line.
    """
    truth = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    first, second, same, lines = [], [], [], []
    try:
        with open(path, encoding="utf-8") as f:
            rows = list(enumerate(f, 1))
    except UnicodeDecodeError:
        raise errors.UserError("%s: not a text file; give a CSV of image_a,image_b,same lines" % path)
    for number, line in rows:
        if not line.strip():
            continue
        fields = [field.strip() for field in line.rstrip("\n").split(",")]
        if not lines and not first and tuple(field.lower() for field in fields) == PAIRS_CSV_HEADER:
            continue
        if len(fields) != 3 or not fields[0] or not fields[1] or fields[2].lower() not in truth:
            raise errors.UserError("%s:%d: expected image_a,image_b,same with same 1 or 0, got %r"
                                   % (path, number, line.strip()[:200]))
        first.append(fields[0])
        second.append(fields[1])
        same.append(truth[fields[2].lower()])
        lines.append(number)
    same = np.array(same, bool)
    if not same.any() or same.all():
        raise errors.UserError("%s: %d pairs, %d genuine: scoring needs genuine and impostor pairs" % (
            path, len(same), int(same.sum())))
    return PairList(np.array(first), np.array(second), same, np.array(lines))


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
