"""Real trained models for the eval and predict tests, each trained once per test session.

Under pytest-xdist every worker process has its own session, so the first worker to ask trains the
model under a file lock in the folder the workers share, and the others wait for it and reuse it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

from tests.conftest import SHARED_DATASETS, cnn_subprocess, require_shared


@dataclass(frozen=True)
class TrainedModel:
    run: Path  # the run folder
    model: Path  # its best model file
    data_dir: Path  # where its dataset (and any other made present) lives
    result: dict  # what `cnn train --json` said


def shared_root(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == "master" else base.parent


def train_once(root: Path, name: str, dataset: str, train_args: list[str]) -> TrainedModel:
    """Train (or find) the model `name` under `root`: the first caller trains, the rest wait and reuse."""
    folder, data_dir = root / name, root / f"{name}-data"
    with FileLock(str(root / f"{name}.lock")):
        done = folder / "train.json"
        if not done.exists():
            if dataset != "mnist-sample":
                require_shared(SHARED_DATASETS / dataset)
                made = cnn_subprocess(
                    "download", dataset, "--from", str(SHARED_DATASETS / dataset), "--data-dir", str(data_dir), "-q"
                )
                assert made.exit_code == 0, made.stderr
            run = cnn_subprocess(
                "train",
                "--dataset",
                dataset,
                *train_args,
                "--data-dir",
                str(data_dir),
                "--out",
                str(folder / "runs"),
                "--json",
                timeout=600,
            )
            assert run.exit_code == 0, run.stderr
            done.write_text(run.stdout)
    result = json.loads(done.read_text())
    return TrainedModel(Path(result["run"]), Path(result["model"]), data_dir, result)


def make_present(dataset: str, data_dir: Path) -> None:
    """A dataset from the shared copies into `data_dir`, as `cnn download --from` imports it."""
    require_shared(SHARED_DATASETS / dataset)
    with FileLock(str(data_dir) + f".{dataset}.lock"):
        made = cnn_subprocess(
            "download", dataset, "--from", str(SHARED_DATASETS / dataset), "--data-dir", str(data_dir), "-q"
        )
    assert made.exit_code == 0, made.stderr


@dataclass(frozen=True)
class ExportedModel:
    model: Path  # a copy of the trained model's .safetensors
    onnx: Path  # its export, beside it
    result: dict  # what `cnn export --json` said


def export_once(root: Path, trained: TrainedModel) -> ExportedModel:
    """`cnn export` of a copy of `trained`'s model, made once under `root` (a file lock, as train_once)."""
    folder = root / f"{trained.run.name}-export"
    with FileLock(str(root / f"{trained.run.name}-export.lock")):
        done = folder / "export.json"
        if not done.exists():
            folder.mkdir(exist_ok=True)
            model = folder / "best.safetensors"
            model.write_bytes(trained.model.read_bytes())
            run = cnn_subprocess("export", str(model), "--json", timeout=600)
            assert run.exit_code == 0, run.stderr
            done.write_text(run.stdout)
    result = json.loads(done.read_text())
    return ExportedModel(folder / "best.safetensors", Path(result["onnx"]), result)
