"""Signs that stay true: every repository path the README, docs/ and the code's docstrings and comments name
exists (a moved module or test leaves no sign pointing at where it was)."""
import os
import re

from tests.conftest import ROOT

# A path of this repository: one of its top-level folders, then folders and a file or a folder (trailing /).
PATH = re.compile(r"(?<![\w./-])((?:pfe_estimator|configs|scripts|bench|data_prep|tests|docs|test)/"
                  r"[\w./-]*[\w/])")
SOURCES = ("README.md", "CHANGELOG.md", "docs", "pfe_estimator", "configs", "scripts", "bench", "data_prep", "tests",
           "test", "main.py", "Makefile")


def texts():
    """(file, text) of every file whose words are signs: markdown, Python, shell, Makefile."""
    for source in SOURCES:
        path = os.path.join(ROOT, source)
        files = [path] if os.path.isfile(path) else [os.path.join(folder, name) for folder, _, names in
                                                     os.walk(path) for name in names]
        for name in files:
            if name.endswith((".md", ".py", ".sh")) or os.path.basename(name) == "Makefile":
                with open(name, encoding="utf-8") as f:
                    yield os.path.relpath(name, ROOT), f.read()


def named_paths(text):
    """The repository paths a text names (a trailing '.' or ',' of the sentence left out; glob patterns,
    placeholders and a path's own continuation with '...' left aside)."""
    for match in PATH.finditer(text):
        path = match.group(1).rstrip(".,")
        following = text[match.end(1):match.end(1) + 1]
        if following in ("*", "{", "<") or any(mark in path for mark in ("NAME", "CONFIG", "SCRIPT", "...")):
            continue
        module, _, attribute = path.rpartition(".")
        if module and "/" not in attribute and attribute[:1].isupper():  # bench/released_loop.StepTimer
            path = module + ".py"
        yield path


def test_every_repository_path_a_sign_names_exists():
    stale = []
    for name, text in texts():
        if name in ("CHANGELOG.md", "tests/test_signs.py"):  # history names what was; this test names a stale path
            continue
        for path in named_paths(text):
            if not os.path.exists(os.path.join(ROOT, path)):
                stale.append("%s: %s" % (name, path))
    assert stale == []


def test_the_check_finds_a_stale_path():
    assert list(named_paths("see tests/scripts/test_held_out_quality.py, and configs/base.py.")) == [
        "tests/scripts/test_held_out_quality.py", "configs/base.py"]
    assert not os.path.exists(os.path.join(ROOT, "tests/scripts/test_held_out_quality.py"))
