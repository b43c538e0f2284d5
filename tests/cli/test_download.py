"""`cnn download`: the real command against local servers: verdicts, exit codes, stdout for JSON only."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from cnncli.core.data.catalog import CATALOG
from cnncli.core.errors import ExitCode
from tests.support.datafiles import cifar_tarball


def test_download_mnist_from_a_mirror_end_to_end(cnn, shared_server, tmp_path):
    mirror = shared_server.url("ok", "mnist/")
    run = cnn("download", "mnist", "--mirror", mirror, "--data-dir", str(tmp_path))
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    for pin in CATALOG["mnist"].files:
        assert f"mnist/{pin.name}: downloaded from {mirror}{pin.name}, verified (sha256:" in run.stderr
        assert (tmp_path / "mnist" / pin.name).is_file()
    assert lines[-1] == f"mnist: ready in {tmp_path} (from --data-dir)"
    assert not list((tmp_path / "mnist").glob("*.part*"))
    again = cnn("download", "mnist", "--data-dir", str(tmp_path), "--json")  # no mirror needed now
    assert again.exit_code == 0 and "already here, verified" in again.stderr
    document = json.loads(again.stdout)
    assert document["ok"] is True and document["data_dir"] == str(tmp_path)
    assert document["data_dir_source"] == "--data-dir"
    [dataset] = document["datasets"]
    assert dataset["name"] == "mnist" and dataset["path"] == str(tmp_path / "mnist")
    assert [f["action"] for f in dataset["files"]] == ["present"] * 4
    assert set(dataset["files"][0]) == {"name", "action", "ok", "path", "digest", "origin", "attempts", "error"}


def test_every_mirror_failing_exits_5_with_what_was_tried(cnn, shared_server, tmp_path):
    mirror = shared_server.url("missing", "mnist/")
    run = cnn("download", "mnist", "--mirror", mirror, "--data-dir", str(tmp_path))
    assert run.exit_code == ExitCode.DOWNLOAD and run.stdout == ""
    assert "error: mnist/train-images-idx3-ubyte.gz: every mirror failed (the last: HTTP 404" in run.stderr
    assert f"  tried {mirror}t10k-labels-idx1-ubyte.gz: HTTP 404" in run.stderr
    assert "hint: fetch the files yourself and run 'cnn download mnist --from DIR'" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_json_on_failure_still_reports_every_file(cli, shared_server, tmp_path):
    run = cli("download", "mnist", "--mirror", shared_server.url("missing", "mnist/"), "--json", "-q")
    assert run.exit_code == ExitCode.DOWNLOAD and run.stderr.startswith("error: ")
    document = run.json()
    assert document["ok"] is False
    files = document["datasets"][0]["files"]
    assert all(f["action"] == "failed" and f["attempts"][0]["error"].startswith("HTTP 404") for f in files)


def test_mirrors_from_the_environment_in_order(cli, shared_server):
    mirrors = f"{shared_server.url('missing', 'mnist/')}, {shared_server.url('ok', '{dataset}/')}"
    run = cli("download", "mnist", "--json", env={"CNN_MIRRORS": mirrors})
    assert run.exit_code == 0, run.stderr
    first = run.json()["datasets"][0]["files"][0]
    assert [a["error"] is None for a in first["attempts"]] == [False, True]
    assert first["origin"] == shared_server.url("ok", "mnist/train-images-idx3-ubyte.gz")


def test_from_a_folder_with_gzipped_and_raw_files(cli, tmp_path):
    from tests.conftest import SHARED_DATASETS, require_shared

    require_shared(SHARED_DATASETS / "mnist")
    mine = tmp_path / "downloads" / "mnist"  # a sub-folder named after the dataset is looked in too
    mine.mkdir(parents=True)
    for pin in CATALOG["mnist"].files:
        source = SHARED_DATASETS / "mnist" / pin.name
        if pin.name.startswith("t10k"):  # the test files as the user gunzipped them
            (mine / pin.raw_name).write_bytes(gzip.decompress(source.read_bytes()))
        else:
            (mine / pin.name).write_bytes(source.read_bytes())
    run = cli("download", "mnist", "--from", str(tmp_path / "downloads"), "--json")
    assert run.exit_code == 0, run.stderr
    files = {f["name"]: f for f in run.json()["datasets"][0]["files"]}
    assert {f["action"] for f in files.values()} == {"imported"}
    assert files["t10k-images-idx3-ubyte.gz"]["path"].endswith("/mnist/t10k-images-idx3-ubyte")
    assert files["t10k-images-idx3-ubyte.gz"]["origin"] == str(mine / "t10k-images-idx3-ubyte")

    from cnncli.core.data import load_split

    assert len(load_split("mnist", "test", offline=True)) == 10000  # read from the raw files


def test_from_with_a_file_that_is_not_the_published_one(cli, tmp_path):
    tarball, _ = cifar_tarball(tmp_path / "cifar-10-binary.tar.gz")
    run = cli("download", "cifar10", "--from", str(tmp_path))
    assert run.exit_code == ExitCode.DOWNLOAD
    assert f"error: cifar10/cifar-10-binary.tar.gz: {tarball} does not verify: expected " in run.stderr
    assert "expected md5:c32a1d4ab5d03f1284b67883e8d87530, found md5:" in run.stderr
    assert "hint: " in run.stderr
    data_dir = os.environ["CNN_DATA_DIR"]
    assert not os.path.exists(os.path.join(data_dir, "cifar10", "cifar-10-binary.tar.gz"))


def test_list_shows_every_dataset_and_the_data_directory(cli, shared_server):
    run = cli("download", "--list")
    assert run.exit_code == 0 and run.stdout == ""
    for name in CATALOG:
        assert name in run.stderr
    assert f"data directory: {os.environ['CNN_DATA_DIR']} (from CNN_DATA_DIR)" in run.stderr
    before = {d["name"]: d for d in cli("download", "--list", "--json").json()["datasets"]}
    assert before["mnist"]["status"] == "missing" and before["mnist-sample"]["status"] == "built-in"
    assert cli("download", "mnist", "--mirror", shared_server.url("ok", "mnist/"), "-q").exit_code == 0
    document = cli("download", "--list", "--json").json()
    mnist = next(d for d in document["datasets"] if d["name"] == "mnist")
    assert (mnist["status"], mnist["present"], mnist["verified"]) == ("verified", True, True)
    assert mnist["train"] == 60000 and mnist["classes"][0] == "0" and mnist["download_bytes"] > 0
    assert {f["state"] for f in mnist["files"]} == {"verified"}
    assert document["data_dir_source"] == "CNN_DATA_DIR"


def test_list_names_a_damaged_file(cli, shared_server):
    assert cli("download", "mnist", "--mirror", shared_server.url("ok", "mnist/"), "-q").exit_code == 0
    damaged = os.path.join(os.environ["CNN_DATA_DIR"], "mnist", "t10k-labels-idx1-ubyte.gz")
    with open(damaged, "wb") as handle:
        handle.write(gzip.compress(b"not labels"))
    run = cli("download", "--list")
    assert f"warning: {damaged} does not verify" in run.stderr and "corrupt" in run.stderr
    again = cli("download", "mnist", "--mirror", shared_server.url("ok", "mnist/"))  # replaced, not kept
    assert (
        again.exit_code == 0
        and "does not verify" in again.stderr
        and "t10k-labels-idx1-ubyte.gz: downloaded" in again.stderr
    )


def test_mnist_sample_is_already_here(cli):
    run = cli("download", "mnist-sample", "--json")
    assert run.exit_code == 0
    assert {f["action"] for f in run.json()["datasets"][0]["files"]} == {"present"}


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["download", "mnits"], ExitCode.NOT_FOUND, "error: unknown dataset 'mnits'"),
        (["download", "mnist", "--mirror", "ftp://x/"], ExitCode.USAGE, "not an http(s) URL"),
        (["download", "folder:./photos"], ExitCode.USAGE, "nothing to download"),
        (["download", "--list", "mnist"], ExitCode.USAGE, "takes no names"),
        (["download", "mnist", "--from", "/no/such/folder"], ExitCode.NOT_FOUND, "no folder /no/such/folder"),
        (["download", "-q"], ExitCode.USAGE, "name the datasets to download"),
        (["download", "mnist", "--from", ".", "--mirror", "http://x/"], ExitCode.USAGE, "give one of the two"),
    ],
)
def test_usage_and_lookup_errors(cli, args, code, text):
    run = cli(*args)
    assert run.exit_code == code and text in run.stderr and run.stdout == ""


def test_quiet_says_nothing_on_success(cli, shared_server):
    run = cli("download", "mnist", "--mirror", shared_server.url("ok", "mnist/"), "-q")
    assert (run.exit_code, run.stdout, run.stderr) == (0, "", "")


def _as_from_a_terminal() -> None:
    """Ctrl-C as a shell delivers it: SIGINT at its default and unblocked in the child. An ignored or
    blocked SIGINT is inherited across exec, and a test worker's may be either (seen in CI runs of the
    whole suite, never alone), which made the child finish the download the test meant to interrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_an_interrupted_download_leaves_no_complete_looking_file_and_resumes(shared_server, tmp_path):
    mirror = shared_server.url("slowfirst", "mnist/")
    command = [sys.executable, "-m", "cnncli", "download", "mnist", "--mirror", mirror, "--data-dir", str(tmp_path)]
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, preexec_fn=_as_from_a_terminal
    )
    part = tmp_path / "mnist" / "train-images-idx3-ubyte.gz.part"
    deadline = time.monotonic() + 60
    while not (part.exists() and part.stat().st_size > 1 << 20) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.INTERRUPTED, stderr.decode()
    assert b"error: interrupted" in stderr and b"Traceback" not in stderr
    assert not (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").exists()
    kept = part.stat().st_size
    assert 0 < kept < (shared_server.state.root / "mnist" / "train-images-idx3-ubyte.gz").stat().st_size
    done = subprocess.run(command, capture_output=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert f"resuming at {kept:,} bytes" in done.stderr.decode()
    assert any(entry.range == f"bytes={kept}-" for entry in shared_server.log)
