"""`cnn serve` as a real subprocess on a free loopback port, for the tests of the server and its page.

    with ServeProcess(model_file, "--max-in-flight", "2") as server:
        httpx.get(server.url + "health")
        code = server.stop(signal.SIGTERM)   # the exit status; server.stderr holds what it logged

It is started with --port 0 and --json: the server binds a free port itself and says which in its
first line on stdout, so no port is guessed (and no other process can take it in between).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

START_TIMEOUT = 120  # seconds: importing torch and loading the model on a busy machine


class ServeProcess:
    def __init__(
        self, model: Path | str | None, *options: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        named = [] if model is None else [str(model)]  # None: the latest run under cwd's runs/
        self.arguments = [sys.executable, "-m", "cnncli", "serve", *named, "--port", "0", "--json", *options]
        self.cwd = cwd
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.url = ""
        self._stderr: list[str] = []

    def __enter__(self) -> ServeProcess:
        env = {**os.environ, "NO_COLOR": "1", **self.env}
        self.process = subprocess.Popen(
            self.arguments, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=self.cwd
        )
        self._reader = threading.Thread(target=self._drain_stderr, daemon=True)
        self._reader.start()
        line = _first_line(self.process, START_TIMEOUT)
        assert line, f"cnn serve did not start: {self.stderr}"
        self.url = json.loads(line)["url"]
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def _drain_stderr(self) -> None:
        assert self.process and self.process.stderr
        for line in self.process.stderr:
            self._stderr.append(line)

    @property
    def stderr(self) -> str:
        return "".join(self._stderr)

    def wait_for_line(self, matches, timeout: float = 30) -> str | None:
        """The first stderr line `matches(line)` accepts, waiting for it: a thread reads stderr, so a line
        the server has written may not be in `stderr` yet when the answer that followed it has arrived."""
        deadline = time.monotonic() + timeout
        while True:
            found = next((line for line in self.stderr.splitlines() if matches(line)), None)
            if found is not None or time.monotonic() >= deadline:
                return found
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.process
        self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._reader.join(timeout)  # the process is gone: its stderr ends, and the reader with it
        return code

    def wait_in_flight(self, count: int, timeout: float = 30) -> None:
        """Until the server says `count` requests are admitted (queued or running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if httpx.get(self.url + "health", timeout=10).json()["in_flight"] >= count:
                return
            time.sleep(0.01)
        raise AssertionError(f"the server never had {count} requests in flight")


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    """The first line of stdout, or "" if the process ends or `timeout` passes first."""
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    return found[0] if found else ""
