"""`cnn train --nproc N`: start N training processes on this machine, as torchrun would, and wait for them.

Pure Python (no torch): the launcher only starts `python -m cnncli train ...` N times with the rank
variables set; each process then joins the process group itself (training/distributed.py).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from cnncli.core.errors import UsageError


def _argv(given: dict[str, Any], resume: Path | None, config_file: Path | None) -> list[str]:
    """The options back as command-line words, for the processes torchrun starts."""
    words: list[str] = []
    flags = {
        "augment": ("--augment", "--no-augment"),
        "deterministic": ("--deterministic", "--no-deterministic"),
        "compile": ("--compile", "--no-compile"),
        "offline": ("--offline", "--online"),
    }
    for key, value in given.items():
        if key in flags:
            words.append(flags[key][0] if value else flags[key][1])
        elif key == "amp":
            words.append("--amp" if value == "on" else "--no-amp")
        else:
            words += [f"--{key.replace('_', '-')}", str(value)]
    if resume is not None:
        words += ["--resume", str(resume)]
    if config_file is not None:
        words += ["--config", str(config_file)]
    return words


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def launch(nproc: int, given: dict[str, Any], resume: Path | None, config_file: Path | None, shared: list[str]) -> int:
    """`cnn train --nproc N ...`: N processes with the environment torchrun gives them (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so they meet exactly as under `torchrun --nproc-per-node N`.
    `shared`: the output options every process gets. Returns the first failing exit status (negative for a
    signal), or 0."""

    cores = os.cpu_count() or 1
    if not 1 <= nproc <= cores:
        raise UsageError(
            f"--nproc must be from 1 to {cores} (the CPU cores here), not {nproc}",
            "each process needs a core of its own to feed its device",
        )
    argv = [sys.executable, "-m", "cnncli", "train", *_argv(given, resume, config_file), *shared]
    port = str(_free_port())
    workers = []
    for rank in range(nproc):
        rank_env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": str(nproc),
            "LOCAL_WORLD_SIZE": str(nproc),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
        }
        workers.append(subprocess.Popen(argv, env=rank_env))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the workers get Ctrl-C themselves and save
    try:
        failed = _wait_all(workers)
    finally:
        signal.signal(signal.SIGINT, previous)
    return failed


def _wait_all(workers: list[subprocess.Popen]) -> int:
    """Wait for every worker; when one fails, stop the rest (they would wait for it forever)."""

    while True:
        codes = [worker.poll() for worker in workers]
        failed = next((code for code in codes if code), 0)
        if failed:
            for worker in workers:
                if worker.poll() is None:
                    worker.terminate()
            for worker in workers:
                worker.wait()
            return failed
        if all(code == 0 for code in codes):
            return 0
        time.sleep(0.2)
