"""Commands built on first use: the listing reads the same help, a run imports only its own command."""

from __future__ import annotations

import inspect

import pytest

from cnncli.cli.app import COMMANDS
from tests.support.startup import modules_after


def _command_modules_after(*args: str) -> set[str]:
    return {entry.module for entry in COMMANDS.values()} & modules_after(*args)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_docstring_read_from_source_is_the_one_typer_shows(name):
    entry = COMMANDS[name]
    assert entry.docstring() == inspect.getdoc(entry.callback())


def test_help_lists_every_command_in_order_without_importing_them(cli):
    run = cli("--help")
    listed = [line.split()[0] for line in run.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)
    assert _command_modules_after("--help") == set()


def test_a_run_imports_only_its_own_command():
    assert _command_modules_after("shapes", "--input", "28", "--kernel", "5") == {"cnncli.cli.shapes"}


def test_a_mistyped_command_still_gets_a_suggestion(cli):
    run = cli("shap")
    assert run.exit_code == 2
    assert "Did you mean 'shapes'?" in run.stderr
