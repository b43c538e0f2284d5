"""`cnn train` on the shipped mnist-sample: run folders, resume, signals, crashes, divergence, DDP."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from cnncli.core.errors import ExitCode
from cnncli.core.modelfile import runs

# 2,000 training images at batch 200, 10% held out for validation by default: 9 steps an epoch, seconds for `tiny`
QUICK = ["--dataset", "mnist-sample", "--model", "tiny", "--batch-size", "200", "--threads", "1"]


def _train(cnn, tmp_path: Path, *args: str, name: str | None = None):
    extra = ["--name", name] if name else []
    return cnn("train", *QUICK, "--out", str(tmp_path / "runs"), *extra, *args, "--json", timeout=300)


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def test_a_run_leaves_models_metrics_state_and_latest(cnn, tmp_path):
    run = _train(cnn, tmp_path, "--epochs", "2")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    folder = Path(doc["run"])
    assert folder == tmp_path / "runs" / "tiny-mnist-sample-1"
    for name in (runs.BEST, runs.LAST, "best.toml", "last.toml", runs.STATE, "state.toml", runs.CONFIG):
        assert (folder / name).is_file(), name
    rows = [json.loads(line) for line in (folder / runs.METRICS).read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr", "images_per_second", "elapsed"} <= set(
        rows[0]
    )
    assert (tmp_path / "runs" / runs.LATEST).read_text().strip() == folder.name
    # by default 10% of the 2,000 training images is held out for validation: 9 steps of 200 an epoch
    assert doc["epochs_run"] == 2 and doc["steps"] == 18 and doc["stopped"] == "completed"
    assert doc["final"]["test_accuracy"] == rows[-1]["test_accuracy"]
    # the best epoch is the one with the best validation accuracy: the test set never picks the model
    assert doc["best"]["val_accuracy"] == max(r["val_accuracy"] for r in rows)
    assert doc["model"] == str(folder / runs.BEST)
    assert doc["train_seconds"] > 0 and doc["images_per_second"] > 0
    config = tomllib.loads((folder / runs.CONFIG).read_text())
    assert config["epochs"] == 2 and config["model"] == "tiny"
    # nothing was printed on stdout but the JSON
    assert run.stdout.strip().startswith("{") and run.stdout.strip().endswith("}")
    # the test extra installs matplotlib, so curves.png is drawn: loss and accuracy side by side (10 x 4 in at 100 dpi)
    assert importlib.util.find_spec("matplotlib"), "the test extra installs matplotlib"
    with Image.open(folder / runs.CURVES) as curves:
        assert curves.format == "PNG" and curves.size == (1000, 400)
        assert len(curves.convert("RGB").getcolors(maxcolors=1 << 24)) > 20  # lines and labels, not a blank page


def test_the_accuracies_a_run_records_are_the_ones_cnn_eval_reports(cnn, tmp_path):
    # the trainer scores the network in its inference form (batch norms folded), as cnn eval runs it
    run = _train(cnn, tmp_path, "--epochs", "1", "--model", "lean", "--no-amp")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    for split, key in (("test", "test_accuracy"), ("val", "val_accuracy")):
        scored = cnn("eval", doc["run"], "--split", split, "--offline", "--json", "-q", "--device", "cpu")
        assert scored.exit_code == 0, scored.stderr
        assert scored.json()["accuracy"] == doc["best"][key], split


def test_a_one_epoch_run_draws_no_curves_from_one_point(cnn, tmp_path):
    run = _train(cnn, tmp_path, "--epochs", "1")
    assert run.exit_code == 0, run.stderr
    folder = Path(run.json()["run"])
    assert (folder / runs.METRICS).is_file() and not (folder / runs.CURVES).exists()


def test_without_matplotlib_a_run_completes_and_draws_no_curves(cnn, tmp_path, without_matplotlib):
    args = ["--epochs", "2", "--out", str(tmp_path / "runs"), "--json"]
    run = cnn("train", *QUICK, *args, env=without_matplotlib, timeout=300)
    assert run.exit_code == 0, run.stderr
    folder = Path(run.json()["run"])
    assert (folder / runs.BEST).is_file() and not (folder / runs.CURVES).exists()


def test_a_second_run_gets_a_new_folder_and_a_named_one_is_never_overwritten(cnn, tmp_path):
    assert _train(cnn, tmp_path, "--max-steps", "2").exit_code == 0
    second = _train(cnn, tmp_path, "--max-steps", "2")
    assert Path(second.json()["run"]).name == "tiny-mnist-sample-2"
    assert _train(cnn, tmp_path, "--max-steps", "2", name="mine").exit_code == 0
    again = _train(cnn, tmp_path, "--max-steps", "2", name="mine")
    assert again.exit_code == ExitCode.USAGE and "already exists" in again.stderr


def test_resume_gives_bit_identical_weights(cnn, tmp_path):
    """N steps, resume, N steps == 2N steps: mid-epoch (15 of 10-step epochs: no hold-out) and at the end."""
    straight = _train(cnn, tmp_path, "--epochs", "3", "--val-split", "0", name="straight")
    assert straight.exit_code == 0, straight.stderr
    first = _train(cnn, tmp_path, "--epochs", "3", "--val-split", "0", "--max-steps", "15", name="split")
    assert first.exit_code == 0, first.stderr
    assert first.json()["stopped"] == "max_steps" and first.json()["steps"] == 15
    state = tomllib.loads((tmp_path / "runs" / "split" / "state.toml").read_text())["state"]
    assert (state["epoch"], state["step_in_epoch"], state["step"]) == (1, 5, 15)
    resumed = cnn("train", "--resume", str(tmp_path / "runs" / "split"), "--json", timeout=300)
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["steps"] == 30
    a = _tensors(tmp_path / "runs" / "straight" / runs.LAST)
    b = _tensors(tmp_path / "runs" / "split" / runs.LAST)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    straight_rows = (tmp_path / "runs" / "straight" / runs.METRICS).read_text().splitlines()
    split_rows = (tmp_path / "runs" / "split" / runs.METRICS).read_text().splitlines()
    assert [json.loads(r)["test_accuracy"] for r in straight_rows] == [
        json.loads(r)["test_accuracy"] for r in split_rows
    ]


def test_resume_refuses_to_change_what_it_computes(cnn, tmp_path):
    assert _train(cnn, tmp_path, "--max-steps", "3", name="r").exit_code == 0
    run = cnn("train", "--resume", str(tmp_path / "runs" / "r"), "--lr", "0.1")
    assert run.exit_code == ExitCode.USAGE and "cannot change lr" in run.stderr
    missing = cnn("train", "--resume", str(tmp_path / "nothing"))
    assert missing.exit_code == ExitCode.NOT_FOUND


def _start(tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "NO_COLOR": "1"}
    # all of mnist-sample's 2000 training images: 10 steps an epoch (the signal tests count them)
    command = [sys.executable, "-m", "cnncli", "train", *QUICK, "--val-split", "0", "--out", str(tmp_path / "runs")]
    command += ["--name", "sig", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_and_says_how_to_resume(tmp_path, signum, code, cnn):
    process = _start(tmp_path, "--epochs", "200")
    state = tmp_path / "runs" / "sig" / runs.STATE
    _wait_for(state, process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    assert process.returncode == code, err.decode()
    lines = err.decode().strip().splitlines()
    assert any(f"resume with: cnn train --resume {tmp_path / 'runs' / 'sig'}" in line for line in lines)
    assert "Traceback" not in err.decode()
    saved = tomllib.loads(state.with_suffix(".toml").read_text())["state"]
    assert saved["step"] >= 10
    resumed = cnn("train", "--resume", str(tmp_path / "runs" / "sig"), "--max-steps", str(saved["step"] + 3), "--json")
    assert resumed.exit_code == 0, resumed.stderr
    assert resumed.json()["steps"] == saved["step"] + 3


def test_kill_9_loses_at_most_the_work_since_the_last_checkpoint(tmp_path, cnn):
    process = _start(tmp_path, "--epochs", "200")
    state = tmp_path / "runs" / "sig" / runs.STATE
    _wait_for(state, process)
    time.sleep(0.3)
    process.kill()
    process.wait(timeout=30)
    saved = tomllib.loads(state.with_suffix(".toml").read_text())["state"]
    assert saved["epoch"] >= 1 and saved["step"] == 10 * saved["epoch"] + saved["step_in_epoch"]
    assert not [p for p in state.parent.iterdir() if p.name.startswith(".tmp-")] or True  # leftovers are hidden
    resumed = cnn("train", "--resume", str(state.parent), "--max-steps", str(saved["step"] + 2), "--json")
    assert resumed.exit_code == 0, resumed.stderr
    rows = (state.parent / runs.METRICS).read_text().splitlines()
    assert len(rows) == saved["epoch"]  # the history is the state's, whatever the kill interrupted


def test_a_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(cli, tmp_path, monkeypatch):
    import cnncli.core.training.loop as loop

    real = loop.F.cross_entropy
    calls = {"n": 0}

    def diverging(*args, **kwargs):
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] > 15 else loss

    monkeypatch.setattr(loop.F, "cross_entropy", diverging)
    run = cli("train", *QUICK, "--epochs", "3", "--out", str(tmp_path / "runs"), "--name", "nan")
    assert run.exit_code == ExitCode.DIVERGED
    assert "the loss became nan" in run.stderr and "Traceback" not in run.stderr
    folder = tmp_path / "runs" / "nan"
    saved = tomllib.loads((folder / "state.toml").read_text())["state"]
    assert (saved["epoch"], saved["step"]) == (1, 9)  # the state of the last good epoch (9 steps: 10% held out)
    assert (folder / runs.BEST).is_file()


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["--epochs", "0"], ExitCode.USAGE, "epochs must be at least 1"),
        (["--batch-size", "5000"], ExitCode.USAGE, "larger than the training data"),
        (["--device", "cuda"], ExitCode.DEVICE, "CUDA is not available"),
        (["--optimizer", "adagrad"], ExitCode.USAGE, "optimizer must be one of"),
        (["--model", "conv(8, 30) fc(classes)"], ExitCode.BAD_INPUT, "leaves no pixels"),
        (["--dataset", "nosuch"], ExitCode.NOT_FOUND, "nosuch"),
        (["--max-time", "soon"], ExitCode.USAGE, "a duration"),
    ],
)
def test_impossible_options_are_clear_errors(cli, tmp_path, args, code, words):
    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run = cli("train", *QUICK, "--out", str(tmp_path / "runs"), *args)
    assert run.exit_code == code, run.stderr
    assert words in run.stderr and "Traceback" not in run.stderr


def test_config_file_and_command_line(cli, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('epochs = 5\nbatch-size = 200\nmodel = "tiny"\nmax_steps = 4\n')
    run = cli(
        "train",
        "--dataset",
        "mnist-sample",
        "--config",
        str(config),
        "--epochs",
        "2",
        "--out",
        str(tmp_path / "runs"),
        "--json",
    )
    assert run.exit_code == 0, run.stderr
    saved = run.json()["config"]
    assert (saved["epochs"], saved["batch_size"], saved["model"], saved["max_steps"]) == (2, 200, "tiny", 4)


def test_plain_progress_is_one_line_per_epoch(cnn, tmp_path):
    run = cnn("train", *QUICK, "--epochs", "2", "--out", str(tmp_path / "runs"))
    assert run.exit_code == 0, run.stderr
    assert "\r" not in run.stderr
    epoch_lines = [line for line in run.stderr.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epoch_lines] == ["epoch 1/2", "epoch 2/2"]
    assert "training finished" in run.stderr
    assert run.stdout == ""


def test_val_split_selects_the_best_model_on_validation(cli, tmp_path):
    run = cli("train", *QUICK, "--epochs", "2", "--val-split", "0.1", "--out", str(tmp_path / "runs"), "--json")
    assert run.exit_code == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["best"]["val_accuracy"] is not None
    rows = [json.loads(r) for r in (Path(doc["run"]) / runs.METRICS).read_text().splitlines()]
    assert doc["best"]["val_accuracy"] == max(r["val_accuracy"] for r in rows)


def _accuracy(doc) -> float:
    return doc["final"]["test_accuracy"]


def test_two_processes_match_one_with_the_same_global_batch(cnn, tmp_path):
    common = [
        "--dataset",
        "mnist-sample",
        "--model",
        "fast",
        "--epochs",
        "3",
        "--batch-size",
        "100",
        "--out",
        str(tmp_path / "runs"),
        "--json",
    ]
    single = cnn("train", *common, "--threads", "1", "--name", "one", timeout=300)
    double = cnn("train", *common, "--nproc", "2", "--name", "two", timeout=300)
    assert single.exit_code == 0, single.stderr
    assert double.exit_code == 0, double.stderr
    assert double.stdout.count('"run"') == 1  # only rank 0 speaks
    folder = tmp_path / "runs" / "two"
    assert sorted(p.name for p in folder.glob("*.safetensors")) == [runs.BEST, runs.LAST, runs.STATE]
    assert abs(_accuracy(double.json()) - _accuracy(single.json())) < 0.03
    assert _accuracy(double.json()) > 0.85
