"""What a real `cnn ARGS` run imports: the module names loaded once it ends, in a fresh interpreter."""

from __future__ import annotations

import os
import subprocess
import sys

# torch and its kind cost seconds to import: `--help`, completion and the light commands must not load them
HEAVY = ("torch", "torchvision", "PIL", "numpy", "onnx", "onnxruntime", "starlette", "uvicorn", "python_multipart")

PROBE = """
import runpy, sys
sys.argv = ["cnn", *{args!r}]
try:
    runpy.run_module("cnncli", run_name="__main__")
except SystemExit:
    pass
print("LOADED:" + ",".join(sorted(sys.modules)), file=sys.stderr)
"""


def modules_after(*args: str, env: dict[str, str] | None = None) -> set[str]:
    """Every module loaded by the time `cnn ARGS` has finished (or exited)."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=list(args))],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("LOADED:")][-1]
    return set(line.removeprefix("LOADED:").split(","))


def heavy_modules_after(*args: str, env: dict[str, str] | None = None) -> str:
    """The heavy packages `cnn ARGS` imported, comma-separated ("" when none)."""
    loaded = modules_after(*args, env=env)
    return ",".join(m for m in HEAVY if m in loaded)
