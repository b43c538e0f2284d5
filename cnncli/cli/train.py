"""`cnn train`: train a model, resumable, with progress a person (or a log file) can follow."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cnncli.cli.common import command
from cnncli.cli.env import Env
from cnncli.cli.progress import reporter_for
from cnncli.cli.render import percent, table
from cnncli.core.errors import UsageError
from cnncli.core.training.config import TrainConfig, check_sources, layered_config, parse_duration
from cnncli.core.training.records import EpochRecord

# Every option defaults to None, meaning "not given": then the config file's value, else the default.
Opt = typer.Option
DEFAULTS = TrainConfig()  # the help shows the defaults from their one home


def _shown(key: str) -> str:
    """A default as the help shows it: on/off, 8e-3 rather than 0.008, 0.2, adamw."""
    value = getattr(DEFAULTS, key)
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and 0 < abs(value) < 0.01:
        mantissa, exponent = f"{value:e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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
            help=f"A built-in architecture or a spec string (default: {_shown('model')}).",
        ),
    ] = None,
    init: Annotated[
        str | None,
        Opt(
            "--init",
            metavar="MODEL",
            show_default=False,
            help="Start from this model's weights (a file, run, runs/latest or pretrained:NAME); "
            "its architecture, with a new head when the classes differ.",
        ),
    ] = None,
    dataset: Annotated[
        str | None,
        Opt(
            "--dataset",
            "-d",
            metavar="NAME",
            show_default=False,
            help=f"mnist, fashion-mnist, kmnist, cifar10, mnist-sample or folder:PATH (default: {_shown('dataset')}).",
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        Opt(
            "--epochs",
            "-e",
            metavar="N",
            show_default=False,
            help=f"Passes over the training data (default: {_shown('epochs')}).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        Opt(
            "--batch-size",
            "-b",
            metavar="N",
            show_default=False,
            help=f"Images per step, across all processes (default: {_shown('batch_size')}).",
        ),
    ] = None,
    lr: Annotated[
        float | None,
        Opt("--lr", metavar="RATE", show_default=False, help=f"Peak learning rate (default: {_shown('lr')})."),
    ] = None,
    optimizer: Annotated[
        str | None,
        Opt(
            "--optimizer",
            metavar="adam|adamw|sgd",
            show_default=False,
            help=f"Optimizer (default: {_shown('optimizer')}).",
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        Opt(
            "--schedule",
            metavar="onecycle|cosine|step|constant",
            show_default=False,
            help=f"Learning-rate schedule, per step (default: {_shown('schedule')}).",
        ),
    ] = None,
    warmup: Annotated[
        float | None,
        Opt(
            "--warmup",
            metavar="FRACTION",
            show_default=False,
            help=f"Fraction of the steps spent warming up (default: {_shown('warmup')}).",
        ),
    ] = None,
    weight_decay: Annotated[
        float | None,
        Opt(
            "--weight-decay",
            metavar="WD",
            show_default=False,
            help=f"Weight decay on conv and fc weights (default: {_shown('weight_decay')}).",
        ),
    ] = None,
    label_smoothing: Annotated[
        float | None,
        Opt(
            "--label-smoothing",
            metavar="EPS",
            show_default=False,
            help=f"Label smoothing (default: {_shown('label_smoothing')}).",
        ),
    ] = None,
    augment: Annotated[
        bool | None,
        Opt(
            "--augment/--no-augment",
            show_default=False,
            help=f"Random shifts (and flips where they fit) (default: {_shown('augment')}).",
        ),
    ] = None,
    val_split: Annotated[
        float | None,
        Opt(
            "--val-split",
            metavar="FRACTION",
            show_default=False,
            help="Hold out this fraction of train (stratified) to pick the best epoch by; 0: hand over the last "
            f"(default: {_shown('val_split')}).",
        ),
    ] = None,
    seed: Annotated[
        int | None, Opt("--seed", metavar="N", show_default=False, help=f"Random seed (default: {_shown('seed')}).")
    ] = None,
    deterministic: Annotated[
        bool | None,
        Opt(
            "--deterministic/--no-deterministic",
            show_default=False,
            help=f"Deterministic kernels only (default: {_shown('deterministic')}).",
        ),
    ] = None,
    device: Annotated[
        str | None,
        Opt(
            "--device",
            metavar="auto|cpu|cuda|cuda:N|mps",
            show_default=False,
            help=f"Where to train (default: {_shown('device')}).",
        ),
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
        bool | None,
        Opt(
            "--compile/--no-compile",
            show_default=False,
            help=f"torch.compile the model (default: {_shown('compile')}).",
        ),
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
        str | None,
        Opt(
            "--out", "-o", metavar="DIR", show_default=False, help=f"Folder of run folders (default: {_shown('out')})."
        ),
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
        str | None,
        Opt(
            "--resume",
            metavar="RUN",
            show_default=False,
            help="Continue a run where it stopped: its folder, the folder of runs (its latest) or runs/latest.",
        ),
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
    cnn train                                  # the default recipe: lean on MNIST
    cnn train --epochs 6 --device cuda
    cnn train --model tutorial --optimizer adam --lr 1e-3 --batch-size 100 --epochs 6
    cnn train --resume runs/lean-mnist-1
    cnn train --init pretrained:mnist --dataset folder:my-digits --epochs 3
    """
    given = {k: v for k, v in locals().items() if k not in ("env", "resume", "config", "nproc") and v is not None}
    if init is not None and model is not None:
        raise UsageError("--init trains the architecture of the model it starts from: drop --model")
    if init is not None and resume is not None:
        raise UsageError("--resume continues a run from its own state: drop --init")
    check_sources(config, resume)
    if resume is not None:  # any form that names a run: its folder, the folder of runs, runs/latest
        from cnncli.core.modelfile.reference import resolve_run_folder

        run_dir: Path | None = resolve_run_folder(resume, out or DEFAULTS.out)
    else:
        run_dir = None
    if "max_time" in given:
        given["max_time"] = parse_duration(given["max_time"])
    if "amp" in given:
        given["amp"] = "on" if given["amp"] else "off"
    if nproc is not None:
        shared = ["--json"] if env.json else []
        shared += ["--quiet"] if env.quiet else []
        shared += ["--verbose"] if env.verbose else []
        from cnncli.core.training.launch import launch

        failed = launch(nproc, given, run_dir, config, shared)
        if failed:
            raise typer.Exit(failed if failed > 0 else 128 - failed)
        return
    _train_here(env, given, run_dir, config)


def _train_here(env: Env, given: dict[str, Any], resume: Path | None, config_file: Path | None) -> None:
    from cnncli.core.training.distributed import world_from_env

    world = world_from_env()
    if not world.main:  # under torchrun, rank 0 alone speaks
        env.quiet, env.json = True, False
    layered = layered_config(given, config_file, resume)

    from cnncli.core.training.loop import StopFlag
    from cnncli.core.training.session import TrainRequest
    from cnncli.core.training.session import train as run_training

    request = TrainRequest(layered.config, resume=resume, explicit_name=layered.explicit_name)
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

    def scores(record: Any) -> dict[str, Any]:
        keys = ("epoch", "test_accuracy", "test_loss", "val_accuracy", "val_loss", "train_accuracy", "train_loss")
        return {k: getattr(record, k) if record else None for k in keys}

    return {
        "run": str(result.run_dir),
        "model": str(result.model_path),
        "last_model": str(result.last_path),
        "epochs_run": result.epochs_run,
        "steps": result.steps,
        "stopped": str(result.stopped_because),
        "train_seconds": round(result.train_seconds, 3),
        "images_per_second": round(result.images_per_second, 1),
        "final": scores(result.final),
        "best": scores(result.best),
        "device": result.device,
        "amp": result.amp,
        "config": result.config.to_dict(),
    }


def _render(env: Env, result: Any) -> None:
    unmeasured = EpochRecord(epoch=0, step=0)
    final, best = result.final or unmeasured, result.best or unmeasured
    rows = [
        ["run", str(result.run_dir)],
        ["model", str(result.model_path)],
        ["epochs", f"{result.epochs_run} ({result.stopped_because.replace('_', ' ')})"],
        ["training time", f"{result.train_seconds:.1f} s"],
        [
            "speed",
            f"{result.images_per_second:,.0f} images/s on {result.device}" + (f" ({result.amp})" if result.amp else ""),
        ],
        ["final test accuracy", f"{percent(final.test_accuracy)}  (loss {final.test_loss or 0:.4f})"],
    ]
    if result.best is not None:  # chosen on the validation hold-out; without one no epoch is claimed best
        rows.append(
            [
                "best (by validation)",
                f"{percent(best.val_accuracy)} val, {percent(best.test_accuracy)} test at epoch {best.epoch}",
            ]
        )
    else:
        rows.append(["handed over", "the last epoch's model (no validation hold-out to choose by: --val-split)"])
    env.render(table(env, ["", ""], rows, title="training finished"))
