"""Shell completion: the committed scripts are current, and real shells complete with them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMPLETIONS = REPO / "completions"


def _shell_env() -> dict[str, str]:
    """PATH with this interpreter's bin folder first, so the scripts find this `cnn`."""
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "cnn").exists():
        pytest.skip("the cnn console script is not installed beside this interpreter")
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_committed_scripts_are_not_stale():
    done = subprocess.run([sys.executable, str(COMPLETIONS / "generate.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


BASH = """
source {script}
COMP_WORDS=({words}); COMP_CWORD={cword}
_cnn_completion cnn
printf '%s\\n' "${{COMPREPLY[@]}}"
"""


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("cnn sh", 1, "shapes"),
        ("cnn shapes --ker", 2, "--kernel"),
        ("cnn shapes --pool ", 3, "max"),
        ("cnn dow", 1, "download"),
        ("cnn download fa", 2, "fashion-mnist"),
    ],
)
def test_bash_completes(words, cword, expected):
    bash = shutil.which("bash")
    assert bash, "bash is needed"
    code = BASH.format(
        script=COMPLETIONS / "cnn.bash", words=words.rstrip() + (" ''" if words.endswith(" ") else ""), cword=cword
    )
    done = subprocess.run([bash, "--norc", "-c", code], capture_output=True, text=True, env=_shell_env(), timeout=30)
    assert expected in done.stdout.split("\n"), done.stdout + done.stderr


ZSH = """
compdef() {{ : }}
_arguments() {{ print -r -- "$@" }}
source {script}
words=({words}); CURRENT={current}
_cnn_completion
"""


def _shell(name: str) -> None:
    """A shell the test needs: skipped where it is missing, a failure under CI=true (.ci/run installs it)."""
    if shutil.which(name) is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{name} is not installed (CI=true: .ci/run installs it)", pytrace=False)
        pytest.skip(f"{name} is not installed")


@pytest.mark.parametrize(
    ("words", "current", "expected"), [("cnn sh", 2, '"shapes"'), ("cnn shapes --ker", 3, '"--kernel"')]
)
def test_zsh_completes(words, current, expected):
    _shell("zsh")
    code = ZSH.format(script=COMPLETIONS / "_cnn", words=words, current=current)
    done = subprocess.run(["zsh", "-f", "-c", code], capture_output=True, text=True, env=_shell_env(), timeout=30)
    assert expected in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize(("line", "expected"), [("cnn sh", "shapes"), ("cnn shapes --ker", "--kernel")])
def test_fish_completes(line, expected):
    _shell("fish")
    code = f"source {COMPLETIONS / 'cnn.fish'}; complete -C '{line}'"
    done = subprocess.run(
        ["fish", "--no-config", "-c", code], capture_output=True, text=True, env=_shell_env(), timeout=30
    )
    assert expected in [row.split("\t")[0] for row in done.stdout.splitlines()], done.stdout + done.stderr
