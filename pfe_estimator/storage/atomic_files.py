"""Writing outputs so that a reader never sees half a file: write under a temporary name, then rename."""
import json
import math
import os

PARTIAL_SUFFIX = ".partial"


def partial_path(path):
    """The temporary name a file is written under before `os.replace` moves it to `path`."""
    return path + PARTIAL_SUFFIX


def strict_json_value(value):
    """`value` with every non-finite float (NaN, inf) replaced by None, so that it dumps as strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(item) for item in value]
    return value


def write_json(path, content):
    """Writes `content` as indented UTF-8 strict JSON (non-finite numbers as null) to `path` atomically."""
    with open(partial_path(path), "w", encoding="utf-8") as f:
        json.dump(strict_json_value(content), f, indent=1, ensure_ascii=False, sort_keys=True, allow_nan=False)
    os.replace(partial_path(path), path)
