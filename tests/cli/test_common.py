"""What every command shares: the options, the error family and exit codes, output discipline."""

from __future__ import annotations

import io

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncli.cli.common import run_guarded
from cnncli.cli.env import Env
from cnncli.core.errors import BadInput, CnnError, ExitCode


def _env(**kw) -> Env:
    return Env(stdout=io.StringIO(), stderr=io.StringIO(), **kw)


def test_a_cnn_error_is_a_message_a_hint_and_its_exit_code():
    env = _env()
    with pytest.raises(typer.Exit) as caught:
        run_guarded(env, lambda: (_ for _ in ()).throw(BadInput("the image is truncated", "re-save it")))
    assert caught.value.exit_code == ExitCode.BAD_INPUT
    assert env.stderr.getvalue() == "error: the image is truncated\nhint: re-save it\n"


def test_a_bug_is_one_line_without_verbose_and_a_traceback_with_it():
    def boom():
        raise ZeroDivisionError("division by zero")

    quiet = _env()
    with pytest.raises(typer.Exit) as caught:
        run_guarded(quiet, boom)
    assert caught.value.exit_code == ExitCode.INTERNAL
    assert "Traceback" not in quiet.stderr.getvalue()
    assert "internal error: ZeroDivisionError" in quiet.stderr.getvalue()
    loud = _env(verbose=True)
    with pytest.raises(typer.Exit):
        run_guarded(loud, boom)
    assert "Traceback (most recent call last)" in loud.stderr.getvalue()


def test_ctrl_c_exits_130():
    def interrupted():
        raise KeyboardInterrupt

    env = _env()
    with pytest.raises(typer.Exit) as caught:
        run_guarded(env, interrupted)
    assert caught.value.exit_code == 130


def test_every_error_class_has_a_documented_code():
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in ExitCode:
        assert re.search(rf"^\| {int(code)} \| `{code.name}` \|", readme, re.M), f"{code.name} missing in README"
    assert issubclass(BadInput, CnnError)


def test_quiet_silences_stderr_but_not_json(cli):
    run = cli("shapes", "tutorial", "-q")
    assert run.exit_code == 0 and run.stderr == "" and run.stdout == ""
    run = cli("shapes", "tutorial", "-q", "--json")
    assert run.json()["total_params"] == 3_199_106


def test_errors_still_show_with_quiet(cli):
    run = cli("shapes", "tutorail", "-q")
    assert run.exit_code == ExitCode.NOT_FOUND and run.stderr.startswith("error:")


def test_no_colour_when_not_a_terminal(cli):
    run = cli("shapes", "tutorial")
    assert "\x1b[" not in run.stderr


def test_usage_errors_are_one_line_and_exit_2(cnn):
    run = cnn("shapes", "--no-such-option")
    assert run.exit_code == ExitCode.USAGE
    assert run.stderr.splitlines()[0].startswith("error: No such option: --no-such-option")
    assert run.stderr.splitlines()[1] == "hint: see 'cnn shapes --help'"


def test_verbose_shows_a_traceback_for_our_errors_too(cnn):
    run = cnn("shapes", "--input", "4", "--kernel", "5", "--verbose")
    assert run.exit_code == ExitCode.BAD_INPUT
    assert "Traceback" in run.stderr and run.stderr.rstrip().splitlines()[-2].startswith("error:")


def test_version_and_help(cnn):
    from cnncli import __version__

    assert cnn("--version").stdout.strip() == f"cnn {__version__}"
    run = cnn("--help")
    assert run.exit_code == 0 and "shapes" in run.stdout
    assert cnn().exit_code == ExitCode.USAGE  # no command: the help, on stderr


def test_python_dash_m_is_the_same_app(cnn):
    assert "Usage: cnn shapes" in cnn("shapes", "--help").stdout


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), style=st.sampled_from([None, "bold", "red"]))
def test_a_plain_line_is_written_as_rich_would_write_it(text, style):
    """Without a terminal, say() skips Rich for printable lines: the bytes must be Rich's own."""
    direct, through_rich = _env(), _env()
    through_rich.console  # noqa: B018 - a console already made sends every line through Rich
    direct.say(text, style=style)
    through_rich.say(text, style=style)
    assert direct.stderr.getvalue() == through_rich.stderr.getvalue()
