"""Faults while writing: kill -9 at random moments, a full disk (a real tmpfs, and an injected ENOSPC), a
rename that fails. After each, the previous models, state and metrics are intact and `--resume` goes on.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.atomic import TEMP_PREFIX
from cnncli.core.errors import ExitCode
from cnncli.core.modelfile import runs
from cnncli.core.modelfile.weights import load_model
from cnncli.core.nn.build import build_model
from cnncli.core.training.checkpoint import TrainingState, load_state
from cnncli.core.training.config import TrainConfig
from cnncli.core.training.session import _optimizer

QUICK = ["--dataset", "mnist-sample", "--model", "tiny", "--batch-size", "200", "--threads", "1"]
STEPS_PER_EPOCH = 9  # 2,000 images less the default 10% validation hold-out, at batch 200
KILLS = 20


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "cnncli", "train", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "OMP_NUM_THREADS": "1"}


def check_run(run_dir: Path) -> TrainingState:
    """Everything a crash may not damage: both models load, the state loads, metrics.jsonl is its history."""
    for name in (runs.BEST, runs.LAST):
        loaded = load_model(run_dir / name)
        assert loaded.metadata.architecture.name == "tiny"
    config = tomllib.loads((run_dir / runs.CONFIG).read_text())
    net = build_model(ARCHITECTURES["tiny"].layers, (1, 28, 28), 10)
    state = load_state(run_dir / runs.STATE, net, _optimizer(TrainConfig(optimizer=config["optimizer"]), net))
    assert state.step == STEPS_PER_EPOCH * state.epoch + state.step_in_epoch
    rows = [json.loads(line) for line in (run_dir / runs.METRICS).read_text().splitlines()]
    # the state is the commit and is written first: metrics.jsonl equals its history, or (killed in the
    # instant between the two renames) lacks only the epoch just committed, which --resume writes
    assert rows == state.history or rows == state.history[:-1], (len(rows), state.epoch)
    return state


def _wait_for_change(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    before, deadline = path.stat().st_mtime_ns, time.monotonic() + timeout
    while path.stat().st_mtime_ns == before and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)


@pytest.mark.slow
def test_kill_9_at_random_moments_never_loses_what_was_saved(tmp_path, cnn):
    out = tmp_path / "runs"
    first = cnn("train", *QUICK, "--epochs", "500", "--max-steps", "10", "--out", str(out), "--name", "k", "--json")
    assert first.exit_code == 0, first.stderr
    run_dir = out / "k"
    previous = check_run(run_dir)
    rng = random.Random(int(os.environ.get("CNN_KILL_SEED", "0")) or None)
    lagging = 0
    for kill in range(KILLS):
        process = subprocess.Popen(
            _command("--resume", str(run_dir)), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if kill % 2:  # anywhere: start-up, loading, steps, evaluation or one of the writes
            time.sleep(rng.uniform(0.5, 5.0))
        else:  # inside an epoch's writes: the models, the state, metrics.jsonl follow within ~100 ms
            _wait_for_change(run_dir / runs.LAST, process)
            time.sleep(rng.uniform(0.0, 0.1))
        process.kill()
        process.wait(timeout=30)
        state = check_run(run_dir)
        assert state.step >= previous.step  # nothing saved is ever lost
        lagging += len((run_dir / runs.METRICS).read_text().splitlines()) != state.epoch
        previous = state
    assert previous.epoch >= 2, "the kills never let an epoch finish: the test proves too little"
    final = cnn("train", "--resume", str(run_dir), "--epochs", str(previous.epoch + 1), "--json", timeout=300)
    assert final.exit_code == 0, final.stderr
    assert final.json()["epochs_run"] == previous.epoch + 1
    done = check_run(run_dir)
    assert len((run_dir / runs.METRICS).read_text().splitlines()) == done.epoch == previous.epoch + 1
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]  # swept by the resume
    print(f"{KILLS} kills; metrics.jsonl one epoch behind the state after {lagging} of them")


# ---------------------------------------------------------------------------------------------
# A full disk and a failing rename, injected in-process: the epoch-1 files survive epoch 2's failure
# ---------------------------------------------------------------------------------------------


def _fail_on_call(real, number: int, error: OSError):
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise error
        return real(*args, **kwargs)

    return failing


def _assert_epoch_1_intact(run_dir: Path, stderr: str) -> None:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert len(lines) == 2 and "nothing was changed" in lines[1], stderr
    state = check_run(run_dir)
    assert state.epoch == 1 and len((run_dir / runs.METRICS).read_text().splitlines()) == 1
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]


def _safetensors_full() -> Exception:
    from safetensors import SafetensorError

    # what save_file raises on a full disk (seen on a real tmpfs): not an OSError
    return SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")


@pytest.mark.parametrize("error", ["oserror", "safetensors"])
@pytest.mark.parametrize("target", ["state", "model"])
def test_a_full_disk_keeps_the_last_good_checkpoint(cli, tmp_path, monkeypatch, target, error):
    import cnncli.core.modelfile.weights as modelfile
    import cnncli.core.training.checkpoint as checkpoint

    module = checkpoint if target == "state" else modelfile
    # the state is written once an epoch; a model twice in epoch 1 (last, best), so the 3rd is epoch 2's
    call = 2 if target == "state" else 3
    full = OSError(errno.ENOSPC, "No space left on device") if error == "oserror" else _safetensors_full()
    monkeypatch.setattr(module, "save_file", _fail_on_call(module.save_file, call, full))
    run = cli("train", *QUICK, "--epochs", "3", "--out", str(tmp_path / "runs"), "--name", "full")
    assert run.exit_code == ExitCode.IO
    assert "the disk is full" in run.stderr
    _assert_epoch_1_intact(tmp_path / "runs" / "full", run.stderr)


def test_a_failing_rename_keeps_the_last_good_checkpoint(cli, tmp_path, monkeypatch):
    import cnncli.core.atomic as atomic

    real = os.replace
    seen = {"n": 0}

    def replace(src, dst):
        if Path(dst).name == runs.STATE:
            seen["n"] += 1
            if seen["n"] == 2:
                raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    run = cli("train", *QUICK, "--epochs", "3", "--out", str(tmp_path / "runs"), "--name", "rename")
    assert run.exit_code == ExitCode.IO
    assert f"cannot write {tmp_path / 'runs' / 'rename' / runs.STATE}: Input/output error" in run.stderr
    # epoch 2's models were published before the state failed; the state and metrics are epoch 1's
    state = check_run(tmp_path / "runs" / "rename")
    assert state.epoch == 1
    resumed = cli("train", "--resume", str(tmp_path / "runs" / "rename"), "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert check_run(tmp_path / "runs" / "rename").epoch == 3


# ---------------------------------------------------------------------------------------------
# A real full disk: a 4 KiB-granular tmpfs in a mount namespace of its own
# ---------------------------------------------------------------------------------------------


def _unshare_prefix() -> list[str] | None:
    """`unshare -m` (root) or `unshare -rm` (a user namespace), where this machine allows mounting a tmpfs."""
    unshare = shutil.which("unshare")
    if unshare is None or sys.platform != "linux":
        return None
    for prefix in ([unshare, "-m"], [unshare, "-rm"]):
        probe = subprocess.run([*prefix, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
        if probe.returncode == 0:
            return prefix
    return None


def _pages(folder: Path) -> int:
    return sum(-(-p.stat().st_size // 4096) * 4096 for p in folder.iterdir() if p.is_file())


@pytest.mark.slow
def test_a_really_full_disk_exits_9_and_keeps_the_last_good_checkpoint(tmp_path, cnn):
    prefix = _unshare_prefix()
    if prefix is None:
        pytest.skip("no mount namespace with a tmpfs here (unshare -m / -rm refused)")
    measured = cnn("train", *QUICK, "--max-steps", str(STEPS_PER_EPOCH), "--out", str(tmp_path / "m"), "--name", "m")
    assert measured.exit_code == 0, measured.stderr
    size = _pages(tmp_path / "m" / "m") + 8192  # epoch 1 fits; epoch 2's first model (40 KB) cannot
    disk, kept = tmp_path / "disk", tmp_path / "kept"
    disk.mkdir()
    train = " ".join(_command(*QUICK, "--epochs", "3", "--out", str(disk / "runs"), "--name", "full"))
    script = (
        f"mount -t tmpfs -o size={size} tmpfs {disk} && {{ {train} 2> {tmp_path}/stderr; echo $? > {tmp_path}/rc; "
        f"cp -a {disk}/runs {kept}; }}"
    )
    done = subprocess.run([*prefix, "sh", "-c", script], env=_env(), capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    stderr = (tmp_path / "stderr").read_text()
    assert int((tmp_path / "rc").read_text()) == ExitCode.IO, stderr
    assert "the disk is full" in stderr
    _assert_epoch_1_intact(kept / "full", stderr)


def test_a_run_being_trained_cannot_be_resumed_twice(cli, tmp_path):
    first = cli("train", *QUICK, "--max-steps", "3", "--out", str(tmp_path / "runs"), "--name", "busy")
    assert first.exit_code == 0, first.stderr
    run_dir = tmp_path / "runs" / "busy"
    (run_dir / (TEMP_PREFIX + "last.safetensors.x")).write_bytes(b"half a model")  # a killed trainer's
    with runs.claim(run_dir):  # as a trainer in another process holds it
        second = cli("train", "--resume", str(run_dir), "--max-steps", "4")
    assert second.exit_code == ExitCode.USAGE and "is being trained by another cnn train" in second.stderr
    assert (run_dir / (TEMP_PREFIX + "last.safetensors.x")).exists()  # nothing touched while it is busy
    third = cli("train", "--resume", str(run_dir), "--max-steps", "4")
    assert third.exit_code == 0, third.stderr
    assert not [p for p in run_dir.iterdir() if p.name.startswith(TEMP_PREFIX)]
