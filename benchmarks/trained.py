"""A trained MNIST model for the benchmarks that need one: `fast`, one epoch, about 99% on the test set."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def train_fast_mnist(raw_dir: Path, work: Path) -> Path:
    """Import MNIST from raw_dir into work/data, train into work/runs; returns the best model file."""
    env = {**os.environ, "CNN_DATA_DIR": str(work / "data")}
    command = [sys.executable, "-m", "cnncli"]
    subprocess.run([*command, "download", "mnist", "--from", str(raw_dir), "-q"], env=env, check=True)
    train = ["train", "--model", "fast", "--epochs", "1", "--lr", "1.5e-2", "--no-augment", "--out", str(work / "runs")]
    subprocess.run([*command, *train, "-q"], env=env, check=True)
    return work / "runs" / "fast-mnist-1" / "best.safetensors"
