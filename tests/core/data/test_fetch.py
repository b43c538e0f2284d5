"""Fetching one file from real HTTP(S) servers on 127.0.0.1: fall-back, retries, resume, verification."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cnncli.core.data.fetch import FetchPolicy, fetch, redirect_allowed
from cnncli.core.reporting import RecordingReporter
from tests.support.datafiles import content_pin, idx_bytes, write_gz
from tests.support.servers import self_signed_certificate

FAST = FetchPolicy(timeout=2.0, retries=1, backoff=0.0)
DATA = idx_bytes((60, 28, 28))  # 47 KB of random pixels: compresses to about as much


@pytest.fixture
def www(tmp_path) -> Path:
    root = tmp_path / "www"
    root.mkdir()
    write_gz(root / "tiny-images-idx3-ubyte.gz", DATA)
    (root / "tiny-raw-idx3-ubyte").write_bytes(DATA)
    return root


@pytest.fixture
def out(tmp_path) -> Path:
    return tmp_path / "out"


GZ = content_pin("tiny-images-idx3-ubyte.gz", DATA)
RAW = content_pin("tiny-raw-idx3-ubyte", DATA)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_good_mirror_gives_a_verified_file_and_nothing_else(www, serve, out):
    server = serve(www)
    progress = RecordingReporter()
    task = progress.start("tiny", unit="B")
    fetched = fetch(GZ, [server.url("ok", GZ.name)], out, FAST, progress, task)
    assert fetched.path == out / GZ.name and fetched.digest == GZ.digest and fetched.error is None
    assert _leftovers(out) == [GZ.name]
    assert progress.tasks[0].completed == (www / GZ.name).stat().st_size


def test_a_404_falls_back_to_the_next_mirror_at_once(www, serve, out):
    server = serve(www)
    fetched = fetch(GZ, [server.url("missing", GZ.name), server.url("ok", GZ.name)], out, FAST)
    assert fetched.url == server.url("ok", GZ.name)
    assert "HTTP 404" in fetched.attempts[0].error
    assert [entry.path.split("/")[1] for entry in server.log] == ["missing", "ok"]  # a 404 is not retried


def test_a_cut_body_is_resumed_with_range(www, serve, out):
    server = serve(www)
    fetched = fetch(GZ, [server.url("flaky", GZ.name)], out, FAST)
    size = (www / GZ.name).stat().st_size
    assert fetched.digest == GZ.digest
    assert "stopped at" in fetched.attempts[0].error
    assert [entry.range for entry in server.log] == [None, f"bytes={size // 2}-"]
    assert _leftovers(out) == [GZ.name]


def test_a_body_always_cut_short_fails_and_keeps_only_a_partial_file(www, serve, out):
    server = serve(www)
    fetched = fetch(GZ, [server.url("short", GZ.name)], out, FAST)
    assert fetched.path is None and "stopped at" in fetched.error
    assert len(fetched.attempts) == 2  # one retry
    assert _leftovers(out) == [GZ.name + ".part", GZ.name + ".part.json"]  # nothing that looks complete


def test_wrong_bytes_name_both_digests_and_are_thrown_away(www, serve, out):
    server = serve(www)
    fetched = fetch(RAW, [server.url("wrong", RAW.name), server.url("ok", RAW.name)], out, FAST)
    assert fetched.digest == RAW.digest
    error = fetched.attempts[0].error
    assert "does not verify" in error and RAW.digest in error and "found sha256:" in error
    assert server.log[1].range is None  # the wrong bytes were not resumed from


def test_wrong_bytes_everywhere_leave_nothing(www, serve, out):
    server = serve(www)
    fetched = fetch(GZ, [server.url("wrong", GZ.name)], out, FAST)
    assert fetched.path is None
    assert "gzip" in fetched.error or "does not verify" in fetched.error
    assert _leftovers(out) == [GZ.name + ".part.json"] or _leftovers(out) == []


def test_a_stall_past_the_timeout_moves_on(www, serve, out):
    server = serve(www)
    started = time.monotonic()
    policy = FetchPolicy(timeout=0.3, retries=0, backoff=0)
    fetched = fetch(GZ, [server.url("stall", GZ.name), server.url("ok", GZ.name)], out, policy)
    assert fetched.url == server.url("ok", GZ.name)
    assert "timed out" in fetched.attempts[0].error
    assert time.monotonic() - started < 10


def _partial(folder: Path, url: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / (GZ.name + ".part")).write_bytes(data)
    (folder / (GZ.name + ".part.json")).write_text(json.dumps({"url": url, "validator": None}))


def test_a_partial_file_from_an_earlier_run_is_resumed(www, serve, out):
    server = serve(www)
    url = server.url("ok", GZ.name)
    _partial(out, url, (www / GZ.name).read_bytes()[:1000])
    assert fetch(GZ, [url], out, FAST).digest == GZ.digest
    assert server.log[0].range == "bytes=1000-"


def test_a_partial_file_from_another_mirror_is_not_resumed(www, serve, out):
    server = serve(www)
    _partial(out, "http://elsewhere.invalid/x.gz", b"\x1f\x8b other framing")
    assert fetch(GZ, [server.url("ok", GZ.name)], out, FAST).digest == GZ.digest
    assert server.log[0].range is None


def test_a_server_ignoring_range_starts_the_file_over(www, serve, out):
    server = serve(www)
    url = server.url("norange", GZ.name)
    _partial(out, url, (www / GZ.name).read_bytes()[:1000])
    assert fetch(GZ, [url], out, FAST).digest == GZ.digest
    assert server.log[0].range == "bytes=1000-"


def test_a_body_larger_than_the_file_can_be_is_refused(www, serve, out):
    server = serve(www)
    small = content_pin(GZ.name, b"x")  # 1 byte of content: no 47 KB body can be it
    fetched = fetch(small, [server.url("ok", GZ.name)], out, FAST)
    assert fetched.path is None and "more than the file can be" in fetched.error


def test_a_redirect_within_http_is_followed(www, serve, out):
    server = serve(www)
    assert fetch(GZ, [server.url("redirect", GZ.name)], out, FAST).digest == GZ.digest
    assert [entry.path.split("/")[1] for entry in server.log] == ["redirect", "ok"]


def test_https_redirected_to_http_is_refused(www, serve, tmp_path, monkeypatch):
    pem = self_signed_certificate(tmp_path)
    if pem is None:
        pytest.skip("no openssl to make a certificate")
    plain = serve(www)
    secure = serve(www, tls=pem, plain_port=plain.port)
    monkeypatch.setenv("SSL_CERT_FILE", str(pem[0]))  # trust our certificate as the system's own
    assert fetch(GZ, [secure.url("ok", GZ.name)], tmp_path / "a", FAST).digest == GZ.digest  # TLS works
    fetched = fetch(GZ, [secure.url("tohttp", GZ.name)], tmp_path / "b", FAST)
    assert fetched.path is None and "refused a redirect" in fetched.error
    assert plain.log == []  # not a byte asked over plain http


@pytest.mark.parametrize(
    ("old", "new", "allowed"),
    [
        ("http://a/x", "http://b/x", True),
        ("http://a/x", "https://b/x", True),
        ("https://a/x", "https://b/x", True),
        ("https://a/x", "http://a/x", False),
        ("HTTPS://a/x", "Http://a/x", False),
        ("http://a/x", "ftp://a/x", False),
        ("http://a/x", "file:///etc/passwd", False),
    ],
)
def test_redirect_policy(old, new, allowed):
    assert redirect_allowed(old, new) is allowed


def test_no_mirror_is_a_failure_not_a_crash(out):
    fetched = fetch(GZ, [], out, FAST)
    assert fetched.path is None and fetched.error == "no mirror to try"
