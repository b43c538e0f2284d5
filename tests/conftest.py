"""Fixtures shared by the tests: in-process CLI runs (Typer's CliRunner) and real subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cnncli.cli.app import app

REPO = Path(__file__).resolve().parents[1]


def _shared_datasets() -> Path:
    """The real MNIST files: $CNN_TEST_DATASETS, else shared/datasets beside the checkout (or beside the
    folder it was cloned into, for a clone made elsewhere on the same machine)."""
    if os.environ.get("CNN_TEST_DATASETS"):
        return Path(os.environ["CNN_TEST_DATASETS"]).resolve()
    candidates = [REPO.parent / "shared" / "datasets", Path("/work/shared/datasets")]
    return next((c.resolve() for c in candidates if (c / "mnist").is_dir()), candidates[0].resolve())


SHARED_DATASETS = _shared_datasets()


def require_shared(path: Path) -> None:
    """Skip a test whose real dataset is not on this machine; in CI (CI=true) that is a failure instead,
    so a CI that lost its copy of shared/ cannot pass by skipping every real-data test."""
    if path.is_dir():
        return
    message = f"{path} is not on this machine"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message + " (CI=true: the real datasets are required)", pytrace=False)
    pytest.skip(message)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@pytest.fixture
def cli():
    """Run `cnn ARGS...` in-process; stdout and stderr apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


def cnn_subprocess(
    *args: str,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    timeout: float = 120,
    cwd: Path | None = None,
) -> Run:
    """Run the real program, `python -m cnncli ARGS...`, in a fresh interpreter."""
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "cnncli", *args],
        env=full_env,
        input=input,
        capture_output=True,
        timeout=timeout,
        cwd=cwd,
    )
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


@pytest.fixture
def cnn():
    return cnn_subprocess


@pytest.fixture(autouse=True)
def _private_data_dir(tmp_path_factory, monkeypatch):
    """No test touches the user's dataset cache or follows a mirror set in the environment."""
    monkeypatch.setenv("CNN_DATA_DIR", str(tmp_path_factory.mktemp("data-dir")))
    monkeypatch.delenv("CNN_MIRRORS", raising=False)


@pytest.fixture
def without_matplotlib(tmp_path) -> dict[str, str]:
    """An environment for `cnn` in which importing matplotlib fails, as where the plot extra is not installed."""
    blocker = tmp_path / "no-matplotlib" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('matplotlib is blocked for this test')\n")
    return {"PYTHONPATH": str(blocker.parent)}


@pytest.fixture
def serve():
    """serve(folder) starts a real HTTP server on 127.0.0.1 for `folder` (see tests/support/servers.py)."""
    from tests.support.servers import DataServer

    servers = []

    def start(root: Path, **options: Any) -> DataServer:
        servers.append(DataServer(root, **options))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture
def shared_server(serve):
    """The real MNIST and Fashion-MNIST files of shared/datasets, served on 127.0.0.1."""
    require_shared(SHARED_DATASETS / "mnist")
    return serve(SHARED_DATASETS)


@pytest.fixture(scope="session")
def mnist_model(tmp_path_factory, worker_id):
    """`fast` trained on MNIST for one epoch (about 99% on the test set), once for the whole session."""
    from tests.support.models import shared_root, train_once

    arguments = ["--model", "fast", "--epochs", "1", "--lr", "1.5e-2", "--no-augment"]
    return train_once(shared_root(tmp_path_factory, worker_id), "mnist-fast", "mnist", arguments)


@pytest.fixture(scope="session")
def sample_model(tmp_path_factory, worker_id):
    """`tiny` trained on the shipped mnist-sample in seconds, with a 10% validation split."""
    from tests.support.models import shared_root, train_once

    arguments = ["--model", "tiny", "--epochs", "3", "--batch-size", "100", "--val-split", "0.1", "--threads", "1"]
    return train_once(shared_root(tmp_path_factory, worker_id), "sample-tiny", "mnist-sample", arguments)


@pytest.fixture(scope="session")
def sample_export(sample_model, tmp_path_factory, worker_id):
    """sample_model's best model copied to a folder of its own and exported there (once per session), so
    the other tests of sample_model keep running it on torch."""
    from tests.support.models import export_once, shared_root

    return export_once(shared_root(tmp_path_factory, worker_id), sample_model)
