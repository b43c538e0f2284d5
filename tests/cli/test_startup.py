"""Start-up stays light: `cnn --help`, `--version`, completion and `cnn shapes` never import torch.

Checked in fresh interpreters (a module imported by an earlier test would hide the fault here), and
statically with ruff's banned-module-level-imports over the whole package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.startup import HEAVY, heavy_modules_after

REPO = Path(__file__).resolve().parents[2]


def test_importing_the_cli_imports_no_torch():
    code = f"import sys, cnncli.cli.app; print([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["shapes", "--input", "28", "--kernel", "5", "--padding", "2"],
        ["shapes", "tutorial", "--json"],
        ["shapes", "--help"],
        ["download", "--help"],
        ["download", "--list", "--json"],
        ["download", "mnist-sample"],
        ["eval", "--help"],
        ["predict", "--help"],
        ["serve", "--help"],
        ["explain", "--help"],
    ],
)
def test_commands_that_must_start_in_a_blink(args):
    assert heavy_modules_after(*args) == ""


def test_tab_completion_imports_no_torch():
    env = {"_CNN_COMPLETE": "complete_bash", "COMP_WORDS": "cnn sh", "COMP_CWORD": "1"}
    assert heavy_modules_after(env=env) == ""


def test_ruff_bans_heavy_imports_at_module_level():
    """ruff (flake8-tidy-imports TID253) over the package: the same rule CI relies on."""
    ruff = Path(sys.executable).with_name("ruff")
    command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
    done = subprocess.run(
        [*command, "check", "--quiet", "cnncli", "tests", "benchmarks", "completions", "scripts"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    formatted = subprocess.run(
        [*command, "format", "--check", "--quiet", "."], cwd=REPO, capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_ruff_would_catch_a_torch_import_in_the_cli(tmp_path):
    """The rule is live: a module-level `import torch` in cnncli/cli is reported."""
    bad = REPO / "cnncli" / "cli" / "_ruff_probe.py"
    bad.write_text("import torch\n\nprint(torch)\n")
    try:
        ruff = Path(sys.executable).with_name("ruff")
        command = [str(ruff)] if ruff.exists() else [sys.executable, "-m", "ruff"]
        done = subprocess.run(
            [*command, "check", "--select", "TID253", str(bad)], cwd=REPO, capture_output=True, text=True
        )
    finally:
        bad.unlink()
    assert done.returncode == 1 and "TID253" in done.stdout
