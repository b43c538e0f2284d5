"""`cnn train`: train a model, resumable, with progress a person (or a log file) can follow."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cnncli.cli.common import command
from cnncli.cli.env import Env
from cnncli.cli.progress import reporter_for
from cnncli.cli.render import table
from cnncli.core.errors import UsageError
from cnncli.core.training.config import TrainConfig, parse_duration, read_config_file

# Every option defaults to None, meaning "not given": then the config file's value, else the default.
Opt = typer.Option


@command
def train(
    env: Env,
    model: Annotated[
        str | None,
        Opt(
            "--model",
            "-m",
            metavar="NAME|SPEC",
            show_default=False,
            help="A built-in architecture or a spec string (default: base).",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        Opt(
            "--dataset",
            "-d",
            metavar="NAME",
            show_default=False,
            help="mnist, fashion-mnist, kmnist, cifar10, mnist-sample or folder:PATH (default: mnist).",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        Opt("--epochs", "-e", metavar="N", show_default=False, help="Passes over the training data (default: 8)."),
    ] = None,
    batch_size: Annotated[
        int | None,
        Opt(
            "--batch-size",
            "-b",
            metavar="N",
            show_default=False,
            help="Images per step, across all processes (default: 256).",
        ),
    ] = None,
    lr: Annotated[
        float | None, Opt("--lr", metavar="RATE", show_default=False, help="Peak learning rate (default: 8e-3).")
    ] = None,
    optimizer: Annotated[
        str | None, Opt("--optimizer", metavar="adam|adamw|sgd", show_default=False, help="Optimizer (default: adamw).")
    ] = None,
    schedule: Annotated[
        str | None,
        Opt(
            "--schedule",
            metavar="onecycle|cosine|step|constant",
            show_default=False,
            help="Learning-rate schedule, per step (default: onecycle).",
        ),
    ] = None,
    warmup: Annotated[
        float | None,
        Opt(
            "--warmup",
            metavar="FRACTION",
            show_default=False,
            help="Fraction of the steps spent warming up (default: 0.2).",
        ),
    ] = None,
    weight_decay: Annotated[
        float | None,
        Opt(
            "--weight-decay",
            metavar="WD",
            show_default=False,
            help="Weight decay on conv and fc weights (default: 5e-4).",
        ),
    ] = None,
    label_smoothing: Annotated[
        float | None,
        Opt("--label-smoothing", metavar="EPS", show_default=False, help="Label smoothing (default: 0.1)."),
    ] = None,
    augment: Annotated[
        bool | None,
        Opt(
            "--augment/--no-augment", show_default=False, help="Random shifts (and flips where they fit) (default: on)."
        ),
    ] = None,
    val_split: Annotated[
        float | None,
        Opt(
            "--val-split",
            metavar="FRACTION",
            show_default=False,
            help="Hold out this fraction of train for validation (default: 0).",
        ),
    ] = None,
    seed: Annotated[
        int | None, Opt("--seed", metavar="N", show_default=False, help="Random seed (default: 0).")
    ] = None,
    deterministic: Annotated[
        bool | None,
        Opt(
            "--deterministic/--no-deterministic", show_default=False, help="Deterministic kernels only (default: off)."
        ),
    ] = None,
    device: Annotated[
        str | None,
        Opt("--device", metavar="auto|cpu|cuda|cuda:N|mps", show_default=False, help="Where to train (default: auto)."),
    ] = None,
    threads: Annotated[
        int | None, Opt("--threads", metavar="N", show_default=False, help="CPU threads (default: all cores).")
    ] = None,
    amp: Annotated[
        bool | None,
        Opt(
            "--amp/--no-amp",
            show_default=False,
            help="bfloat16 autocast (default: where the hardware has native bf16).",
        ),
    ] = None,
    compile: Annotated[
        bool | None, Opt("--compile/--no-compile", show_default=False, help="torch.compile the model (default: off).")
    ] = None,
    patience: Annotated[
        int | None,
        Opt(
            "--patience", metavar="EPOCHS", show_default=False, help="Stop after this many epochs without improvement."
        ),
    ] = None,
    max_time: Annotated[
        str | None,
        Opt(
            "--max-time",
            metavar="DURATION",
            show_default=False,
            help="Stop after this much training, e.g. 90s, 10m, 1h.",
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        Opt("--max-steps", metavar="N", show_default=False, help="Stop after this many optimizer steps in all."),
    ] = None,
    checkpoint_minutes: Annotated[
        float | None,
        Opt("--checkpoint-minutes", metavar="M", show_default=False, help="Also checkpoint inside epochs this often."),
    ] = None,
    out: Annotated[
        str | None, Opt("--out", "-o", metavar="DIR", show_default=False, help="Folder of run folders (default: runs).")
    ] = None,
    name: Annotated[
        str | None,
        Opt("--name", metavar="NAME", show_default=False, help="The run folder's name (default: MODEL-DATASET-N)."),
    ] = None,
    data_dir: Annotated[
        str | None,
        Opt(
            "--data-dir",
            metavar="DIR",
            show_default=False,
            help="Where datasets live (default: $CNN_DATA_DIR or the user cache).",
        ),
    ] = None,
    offline: Annotated[
        bool | None,
        Opt("--offline/--online", show_default=False, help="Never download (default: download what is missing)."),
    ] = None,
    resume: Annotated[
        Path | None,
        Opt("--resume", metavar="RUN", show_default=False, help="Continue the run in this folder where it stopped."),
    ] = None,
    config: Annotated[
        Path | None,
        Opt(
            "--config",
            metavar="FILE.toml",
            show_default=False,
            help="Read options from a TOML file; options given here win.",
        ),
    ] = None,
    nproc: Annotated[
        int | None,
        Opt(
            "--nproc",
            metavar="N",
            show_default=False,
            help="Train with N processes (torchrun, DistributedDataParallel).",
        ),
    ] = None,
) -> None:
    """Train a model; the run folder keeps its models, metrics and state.

    \b
    cnn train                                  # the default recipe: base on MNIST
    cnn train --epochs 6 --device cuda
    cnn train --model tutorial --optimizer adam --lr 1e-3 --batch-size 100 --epochs 6
    cnn train --resume runs/base-mnist-1
    """
    given = {k: v for k, v in locals().items() if k not in ("env", "resume", "config", "nproc") and v is not None}
    if "max_time" in given:
        given["max_time"] = parse_duration(given["max_time"])
    if "amp" in given:
        given["amp"] = "on" if given["amp"] else "off"
    if nproc is not None:
        _launch(env, nproc, given, resume, config)
        return
    _train_here(env, given, resume, config)


def _train_here(env: Env, given: dict[str, Any], resume: Path | None, config_file: Path | None) -> None:
    from cnncli.core.training.distributed import world_from_env

    world = world_from_env()
    if not world.main:  # under torchrun, rank 0 alone speaks
        env.quiet, env.json = True, False
    if resume is not None and config_file is not None:
        raise UsageError("--resume uses the run's own configuration; drop --config")
    file_values = read_config_file(config_file) if config_file else {}
    settings = TrainConfig().with_overrides(file_values).with_overrides(given)
    settings.validate()

    from cnncli.core.training.loop import StopFlag
    from cnncli.core.training.session import TrainRequest
    from cnncli.core.training.session import train as run_training

    request = TrainRequest(
        settings,
        resume=resume,
        overrides=given if resume else {},
        explicit_name="name" in given or "name" in file_values,
    )
    stop = StopFlag()
    with reporter_for(env) as progress, _stop_on_signals(stop):
        result = run_training(request, progress, stop)
    if env.json:
        env.emit_json(result_document(result))
    elif env.show:
        _render(env, result)


@contextmanager
def _stop_on_signals(stop: Any) -> Iterator[None]:
    """Ctrl-C and SIGTERM ask the loop to save and stop at the next step; a second Ctrl-C stops at once."""

    def handler(signum: int, _frame: object) -> None:
        if stop.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.request(signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def result_document(result: Any) -> dict[str, Any]:
    """The JSON of a training run (its schema is in the README)."""

    def scores(row: dict[str, Any]) -> dict[str, Any]:
        keys = ("epoch", "test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy", "train_loss")
        return {k: row.get(k) for k in keys}

    return {
        "run": str(result.run_dir),
        "model": str(result.model_path),
        "last_model": str(result.last_path),
        "epochs_run": result.epochs_run,
        "steps": result.steps,
        "stopped": result.stopped_because,
        "train_seconds": round(result.train_seconds, 3),
        "images_per_second": round(result.images_per_second, 1),
        "final": scores(result.final),
        "best": scores(result.best),
        "device": result.device,
        "amp": result.amp,
        "config": result.config.to_dict(),
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _render(env: Env, result: Any) -> None:
    final, best = result.final, result.best
    rows = [
        ["run", str(result.run_dir)],
        ["model", str(result.model_path)],
        ["epochs", f"{result.epochs_run} ({result.stopped_because.replace('_', ' ')})"],
        ["training time", f"{result.train_seconds:.1f} s"],
        [
            "speed",
            f"{result.images_per_second:,.0f} images/s on {result.device}" + (f" ({result.amp})" if result.amp else ""),
        ],
        ["final test accuracy", f"{_percent(final.get('test_accuracy'))}  (loss {final.get('test_loss', 0):.4f})"],
        [
            "best",
            f"{_percent(best.get('test_accuracy'))} test"
            + (f", {_percent(best.get('val_accuracy'))} val" if best.get("val_accuracy") is not None else "")
            + f" at epoch {best.get('epoch', '-')}",
        ],
    ]
    env.render(table(env, ["", ""], rows, title="training finished"))


# -- several processes ------------------------------------------------------------------------------


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
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _launch(env: Env, nproc: int, given: dict[str, Any], resume: Path | None, config_file: Path | None) -> None:
    """`cnn train --nproc N ...`: N processes with the environment torchrun gives them (RANK, WORLD_SIZE,
    LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so they meet exactly as under `torchrun --nproc-per-node N`."""
    import os

    cores = os.cpu_count() or 1
    if not 1 <= nproc <= cores:
        raise UsageError(
            f"--nproc must be from 1 to {cores} (the CPU cores here), not {nproc}",
            "each process needs a core of its own to feed its device",
        )
    shared = ["--json"] if env.json else []
    shared += ["--quiet"] if env.quiet else []
    shared += ["--verbose"] if env.verbose else []
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
    if failed:
        raise typer.Exit(failed if failed > 0 else 128 - failed)


def _wait_all(workers: list[subprocess.Popen]) -> int:
    """Wait for every worker; when one fails, stop the rest (they would wait for it forever)."""
    import time

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
