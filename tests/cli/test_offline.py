"""Network failures said once: a host that cannot be reached is one diagnosis, not a line per mirror and retry."""

from __future__ import annotations

import socket

import pytest

from cnncli.core.data.catalog import CATALOG
from cnncli.core.errors import ExitCode

FILES = len(CATALOG["mnist"].files)


@pytest.fixture
def refusing_url() -> str:
    """A loopback port nobody listens on: bound, then closed, so connecting to it is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


UNRESOLVABLE = "http://nonexistent.invalid/mnist/"  # .invalid never resolves (RFC 2606)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("which", ["refused", "unresolvable"])
def test_an_unreachable_mirror_is_one_diagnosis_with_the_way_out(cnn, tmp_path, refusing_url, which):
    mirror = refusing_url if which == "refused" else UNRESOLVABLE
    run = cnn("download", "mnist", "--mirror", mirror, "--data-dir", str(tmp_path), "--retries", "3")
    assert run.exit_code == ExitCode.DOWNLOAD and run.stdout == ""
    lines = _error_lines(run.stderr)
    # one verdict per file, one error, one hint: nothing per attempt
    assert len(lines) == FILES + 2, run.stderr
    words = "connections are refused" if which == "refused" else "host names do not resolve"
    assert lines[-2].startswith(f"error: no network: {words} (")
    assert "--from DIR" in lines[-1] and "--mirror" in lines[-1]
    assert "tried " not in run.stderr and "Traceback" not in run.stderr
    assert not any((tmp_path / "mnist").glob("*")), "nothing half-made is kept"


def test_every_attempt_is_shown_with_verbose_and_an_unresolvable_host_is_never_retried(cnn, tmp_path):
    run = cnn("download", "mnist", "--mirror", UNRESOLVABLE, "--data-dir", str(tmp_path), "--retries", "5", "-v")
    assert run.exit_code == ExitCode.DOWNLOAD
    for pin in CATALOG["mnist"].files:
        attempts = [line for line in run.stderr.splitlines() if line.startswith(UNRESOLVABLE + pin.name + ":")]
        assert len(attempts) == 1, run.stderr  # --retries 5, yet one attempt: a name that does not resolve now
        # will not resolve a second later


def test_mixed_unreachable_mirrors_still_say_no_network_once(cnn, tmp_path, refusing_url):
    run = cnn("download", "mnist", "--mirror", UNRESOLVABLE, "--mirror", refusing_url, "--data-dir", str(tmp_path))
    assert run.exit_code == ExitCode.DOWNLOAD
    [error] = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert "no network: host names do not resolve, connections are refused" in error
    assert "nonexistent.invalid" in error and "127.0.0.1" in error
    assert len(_error_lines(run.stderr)) == FILES + 2


def test_a_server_that_answers_keeps_the_per_attempt_report(cnn, shared_server, tmp_path, refusing_url):
    """A 404 is not 'no network': the report still lists what each mirror said."""
    missing = shared_server.url("missing", "mnist/")
    run = cnn("download", "mnist", "--mirror", refusing_url, "--mirror", missing, "--data-dir", str(tmp_path))
    assert run.exit_code == ExitCode.DOWNLOAD
    assert "no network" not in run.stderr
    assert f"  tried {missing}t10k-labels-idx1-ubyte.gz: HTTP 404" in run.stderr
