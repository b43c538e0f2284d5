"""Freed tensor memory stays in the training process: the page faults a step cost are gone, unless the user
tuned malloc already."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile

import pytest

from cnncli.core.runtime import heap

GLIBC_LINUX = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"
# a glibc tunable that changes nothing (malloc checking needs a debug library preloaded): marks malloc as
# tuned by the user, so cnn leaves glibc's own behaviour in place
UNTOUCHED = {"GLIBC_TUNABLES": "glibc.malloc.check=0"}


@pytest.mark.parametrize(
    "environ",
    [
        {"MALLOC_TRIM_THRESHOLD_": "1048576"},
        {"MALLOC_MMAP_THRESHOLD_": "65536"},
        {"MALLOC_TOP_PAD_": "0"},
        {"MALLOC_MMAP_MAX_": "0"},
        {"GLIBC_TUNABLES": "glibc.pthread.rseq=0:glibc.malloc.trim_threshold=1"},
    ],
)
def test_the_user_s_own_malloc_settings_win(environ):
    assert heap.user_tuned(environ)
    assert heap.keep_freed_memory(environ) is False


def test_unrelated_settings_are_not_malloc_tuning():
    assert not heap.user_tuned({"GLIBC_TUNABLES": "glibc.pthread.rseq=0", "MALLOC_TRIM_THRESHOLD_": ""})


def _train_faults(environ: dict[str, str]) -> int:
    """Minor page faults of one whole `cnn train` process: 6 epochs of lean at batch 256 on mnist-sample."""
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile() as stderr:
        command = [sys.executable, "-m", "cnncli", "train", "--dataset", "mnist-sample", "--model", "lean"]
        command += ["--batch-size", "256", "--epochs", "6", "--threads", "1", "--no-amp", "--out", out, "--quiet"]
        child = subprocess.Popen(command, env={**os.environ, **environ}, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        stderr.seek(0)
        assert os.waitstatus_to_exitcode(status) == 0, stderr.read().decode()
        return usage.ru_minflt


@pytest.mark.skipif(not GLIBC_LINUX, reason="the thresholds are glibc's")
def test_training_steps_stop_faulting_in_fresh_pages():
    kept = _train_faults({name: "" for name in heap.USER_SETTINGS} | {"GLIBC_TUNABLES": ""})
    glibc_default = _train_faults(UNTOUCHED)
    # start-up and the import of torch fault in about 100,000 pages either way; glibc's default then adds some
    # 3,700 a step (7 steps an epoch), kept memory next to none
    assert kept < 0.75 * glibc_default, (kept, glibc_default)


@pytest.mark.skipif(not GLIBC_LINUX, reason="the thresholds are glibc's")
def test_glibc_takes_both_thresholds():
    probe = "from cnncli.core.runtime import heap; print(heap.keep_freed_memory({}))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "True"
