"""The README's promises that a test can hold it to."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "the README opens with a sh block of set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_exactly_two_setup_commands():
    commands = _setup_commands()
    assert len(commands) == 2
    assert "pip install -e ." in commands[0] and "pytest" in commands[1]


def test_ci_runs_the_readme_test_command():
    test_command = _setup_commands()[1]
    assert test_command in (REPO / ".ci" / "run").read_text()
