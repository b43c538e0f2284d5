"""Servers that lie: a huge Content-Length, a body without end, redirects in a loop, to a URL that cannot
be parsed, or from https down to http. Each is a clean failure with its reason, through the real command
too, and nothing partial is ever kept as if it were verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from cnncli.core.data.fetch import PART_SUFFIX, FetchPolicy, fetch
from cnncli.core.errors import ExitCode
from tests.support.datafiles import content_pin, idx_bytes, write_gz
from tests.support.servers import self_signed_certificate

FAST = FetchPolicy(timeout=2.0, retries=1, backoff=0.0)
DATA = idx_bytes((60, 28, 28))
PIN = content_pin("tiny-images-idx3-ubyte.gz", DATA)

CASES = {
    "huge": "more than the file can be",
    "endless": "the body runs past",
    "loop": "redirects in a loop",
    "badurl": "a malformed URL",
}


@pytest.fixture
def www(tmp_path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    write_gz(root / PIN.name, DATA)
    return root


@pytest.mark.parametrize("behaviour", CASES)
def test_a_lying_server_is_a_clean_failure_and_leaves_no_file(www, serve, tmp_path, behaviour):
    server = serve(www)
    out = tmp_path / "out"
    fetched = fetch(PIN, [server.url(behaviour, PIN.name)], out, FAST)
    assert fetched.path is None and CASES[behaviour] in fetched.error and "\n" not in fetched.error
    assert len(fetched.attempts) == 1  # none of these is worth a retry
    assert not (out / PIN.name).exists()
    assert not (out / (PIN.name + PART_SUFFIX)).exists() or behaviour == "huge"


def test_after_a_lying_mirror_the_next_one_is_tried(www, serve, tmp_path):
    server = serve(www)
    urls = [server.url(b, PIN.name) for b in CASES] + [server.url("ok", PIN.name)]
    fetched = fetch(PIN, urls, tmp_path / "out", FAST)
    assert fetched.digest == PIN.digest and [a.error is None for a in fetched.attempts] == [False] * 4 + [True]


@pytest.mark.parametrize("behaviour", [*CASES, "tohttp"])
def test_cnn_download_names_the_fault_and_exits_5(serve, tmp_path, cnn, behaviour):
    """The real command: mnist from a mirror that misbehaves, each file failing with its reason."""
    www = tmp_path / "www"
    www.mkdir()
    env = {"CNN_DATA_DIR": str(tmp_path / "data")}
    if behaviour == "tohttp":
        pem = self_signed_certificate(tmp_path)
        if pem is None:
            pytest.skip("no openssl to make a certificate")
        plain = serve(www)
        server = serve(www, tls=pem, plain_port=plain.port)
        env["SSL_CERT_FILE"] = str(pem[0])
    else:
        server = serve(www)
    run = cnn("download", "mnist", "--mirror", server.url(behaviour), "--retries", "0", env=env, timeout=120)
    assert run.exit_code == ExitCode.DOWNLOAD, run.stderr
    words = CASES.get(behaviour, "refused a redirect")
    assert run.stderr.splitlines()[-1].startswith("hint: ") and "Traceback" not in run.stderr
    assert any(line.startswith("error: ") and words in line for line in run.stderr.splitlines()), run.stderr
    folder = tmp_path / "data" / "mnist"
    assert not folder.exists() or not [p for p in folder.iterdir() if not p.name.endswith((".part", ".json"))]
