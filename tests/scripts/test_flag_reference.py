"""docs/flags.md is the flag definitions' own text: regenerated, it is byte-identical."""
import os
import subprocess
import sys

from tests.conftest import ROOT


def test_the_flag_page_matches_the_definitions():
    result = subprocess.run([sys.executable, "-m", "scripts.flag_reference", "--check"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    assert result.returncode == 0, result.stdout[-2000:]
    page = open(os.path.join(ROOT, "docs", "flags.md"), encoding="utf-8").read()
    assert "| `--learning_rates` | 0.001,0.0001 |" in page and "## evaluation" in page
