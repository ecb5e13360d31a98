"""The packages import in the order data flows: a module of pfe_estimator imports only its own subpackage
and the ones before it (imports inside functions included), and never the command-line tools."""
import ast
import re
import glob
import os

from tests.conftest import ROOT

# pfe_estimator/errors.py comes first: every layer may raise a UserError.
LAYERS = ("errors", "storage", "faces", "data", "model", "training", "inference", "evaluation", "experiments",
          "modes")


def imported_modules(path):
    """The dotted names a file imports (`from a.b import c` gives a.b.c and a.b)."""
    names = []
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read(), path)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + ["%s.%s" % (node.module, alias.name) for alias in node.names]
    return names


def layer_of(dotted):
    """The layer index of a pfe_estimator module name, or None for anything else."""
    parts = dotted.split(".")
    if parts[0] != "pfe_estimator" or len(parts) < 2:
        return None
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def test_every_subpackage_is_a_known_layer():
    packages = {os.path.basename(os.path.dirname(p)) for p in glob.glob(os.path.join(ROOT, "pfe_estimator", "*",
                                                                                  "__init__.py"))}
    assert packages == set(LAYERS) - {"errors"}


def test_no_module_imports_a_later_layer_or_a_tool():
    violations = []
    for path in sorted(glob.glob(os.path.join(ROOT, "pfe_estimator", "**", "*.py"), recursive=True)):
        module = os.path.relpath(path, ROOT)[:-len(".py")].replace(os.sep, ".")
        own = layer_of(module if not module.endswith("__init__") else module.rsplit(".", 1)[0])
        if own is None:
            continue
        for name in imported_modules(path):
            if name.split(".")[0] in ("data_prep", "scripts", "bench", "main", "tests"):
                violations.append("%s imports the tool %s" % (module, name))
            other = layer_of(name)
            if other is not None and other > own:
                violations.append("%s (%s) imports %s (%s, a later layer)" % (module, LAYERS[own], name,
                                                                                LAYERS[other]))
    assert not violations, "\n".join(violations)


def test_each_subpackage_ruff_config_bans_exactly_the_later_layers():
    """ruff's TID251 keeps the order while editing: pfe_estimator/<layer>/ruff.toml bans every later layer and
    the tools, and extends the project's configuration."""
    for index, layer in enumerate(LAYERS[1:], 1):
        text = open(os.path.join(ROOT, "pfe_estimator", layer, "ruff.toml"), encoding="utf-8").read()
        banned = re.findall(r'^"([\w.]+)"\.msg', text, re.M)
        assert banned == ["pfe_estimator.%s" % later for later in LAYERS[index + 1:]] + [
            "main", "data_prep", "scripts", "bench", "tests"], layer
        assert 'extend = "../../pyproject.toml"' in text and 'extend-select = ["TID251"]' in text


def test_every_subpackage_docstring_names_each_of_its_modules():
    """Door signs that tell the truth: a module added, renamed or moved shows in its package's docstring."""
    missing = []
    for init in sorted(glob.glob(os.path.join(ROOT, "pfe_estimator", "**", "__init__.py"), recursive=True)):
        folder = os.path.dirname(init)
        text = ast.get_docstring(ast.parse(open(init, encoding="utf-8").read())) or ""
        for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
            name = os.path.basename(path)
            if name != "__init__.py" and not re.search(r"(?<![\w.])%s(?!\w)" % re.escape(name), text):
                missing.append("%s/%s" % (os.path.relpath(folder, ROOT), name))
        for package in sorted(glob.glob(os.path.join(folder, "*", "__init__.py"))):
            name = os.path.basename(os.path.dirname(package)) + "/"
            if not re.search(r"(?<![\w.])%s" % re.escape(name), text):
                missing.append("%s/%s" % (os.path.relpath(folder, ROOT), name))
    assert not missing, "not named in their package's docstring: %s" % ", ".join(missing)


def test_the_package_docstring_lists_the_layers_in_order():
    text = ast.get_docstring(ast.parse(open(os.path.join(ROOT, "pfe_estimator", "__init__.py"),
                                            encoding="utf-8").read()))
    listed = re.findall(r"^  (\w+)(?:/|\.py) +(\d) ", text, re.M)
    assert [name for name, _ in listed] == list(LAYERS) and [int(i) for _, i in listed] == list(range(len(LAYERS)))
