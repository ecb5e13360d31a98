"""Writing outputs so that a reader never sees half a file: write under a temporary name, then rename."""
import json
import os

PARTIAL_SUFFIX = ".partial"


def partial_path(path):
    """The temporary name a file is written under before `os.replace` moves it to `path`."""
    return path + PARTIAL_SUFFIX


def write_json(path, content):
    """Writes `content` as indented UTF-8 JSON to `path` atomically."""
    with open(partial_path(path), "w", encoding="utf-8") as f:
        json.dump(content, f, indent=1, ensure_ascii=False, sort_keys=True)
    os.replace(partial_path(path), path)
