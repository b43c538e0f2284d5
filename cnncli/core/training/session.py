"""`train()`: set up a run (or resume one), train it, and say how it went.

    result = train(TrainRequest(config), progress=reporter, stop=StopFlag())

The CLI builds the TrainConfig, installs signal handlers that set the StopFlag, and renders the
TrainResult. Under torchrun every process calls this; rank 0 alone writes files and reports.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from cnncli.core.arch.query import resolve_model
from cnncli.core.arch.shapes import analyse
from cnncli.core.modelfile import runs
from cnncli.core.modelfile.metadata import ArchitectureInfo
from cnncli.core.nn.build import build_model
from cnncli.core.reporting import NULL_REPORTER, Reporter
from cnncli.core.runtime import eager
from cnncli.core.runtime.device import amp_dtype, resolve_device, set_threads
from cnncli.core.runtime.heap import keep_freed_memory
from cnncli.core.training import distributed
from cnncli.core.training.checkpoint import TrainingState, load_state
from cnncli.core.training.config import TrainConfig
from cnncli.core.training.data import TrainData, load_train_data
from cnncli.core.training.distributed import World
from cnncli.core.training.loop import StopFlag, Trainer
from cnncli.core.training.memory import check_memory
from cnncli.core.training.outputs import NullRunWriter, RunWriter
from cnncli.core.training.records import EpochRecord, StopReason
from cnncli.core.training.start import StartingPoint, check_input, load_weights, starting_point


@dataclass(frozen=True)
class TrainRequest:
    config: TrainConfig  # the effective configuration (training.config.layered_config)
    resume: Path | None = None  # a run folder to continue
    explicit_name: bool = False  # --name was given: an existing folder is an error, not a new number


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    model_path: Path  # the model handed over: the best on validation, else (no hold-out) the last
    last_path: Path
    config: TrainConfig
    epochs_run: int
    steps: int
    stopped_because: StopReason
    train_seconds: float
    images_per_second: float
    final: EpochRecord | None  # the last evaluation: test (and val) loss and accuracy; None before any
    best: EpochRecord | None  # the epoch with the best validation accuracy; None without a hold-out
    device: str
    amp: str | None
    history: list[EpochRecord]


def _optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Weight decay on conv and linear weights only: decaying biases and batch-norm scales only hurts."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    if config.optimizer == "adam":
        # Adam's weight decay is L2 in the gradient, as torch.optim.Adam does it
        return torch.optim.Adam(groups, lr=config.lr, betas=(0.9, 0.99))
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))


def _device(config: TrainConfig, world: World) -> torch.device:
    device = resolve_device(config.device)
    if device.type == "cuda" and world.distributed and device.index is None:
        device = torch.device("cuda", world.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = not config.deterministic
    return device


def _setup_determinism(config: TrainConfig) -> None:
    if config.deterministic:
        import os

        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def _new_run_dir(request: TrainRequest, config: TrainConfig, world: World, device: torch.device) -> Path:
    path = ""
    if world.main:
        name = config.name or runs.default_name(config.model, config.dataset)
        path = str(runs.create_run_dir(config.out, name, request.explicit_name))
    return Path(distributed.broadcast_text(path, world, device))


def _build(
    config: TrainConfig, data: TrainData, device: torch.device, world: World, start: StartingPoint | None
) -> tuple[nn.Module, ArchitectureInfo]:
    if start is not None:  # the starting model's own architecture, so every tensor fits
        architecture = start.metadata.architecture
        resolved = resolve_model(architecture.spec)
        name = architecture.name
    else:
        resolved = resolve_model(config.model)
        name = resolved.name
    info = data.info
    input_shape = (info.channels, info.height, info.width)
    # the analysis first: a network that cannot fit is refused before a weight is allocated
    report = analyse(resolved.layers, input_shape, info.num_classes, resolved.spec)
    check_memory(report, config.batch_size // world.size, device)
    torch.manual_seed(config.seed)  # the initial weights follow from the seed
    model = build_model(resolved.layers, input_shape, info.num_classes, resolved.spec)
    if start is not None:
        load_weights(model, start, tuple(info.classes))
    model = model.to(device=device, memory_format=torch.channels_last)
    return model, ArchitectureInfo(resolved.spec, name)


def train(request: TrainRequest, progress: Reporter = NULL_REPORTER, stop: StopFlag | None = None) -> TrainResult:
    """Train as configured (or continue a run); see the module docstring."""
    world = distributed.world_from_env()
    config = request.config.validate()
    device = _device(config, world)
    set_threads(config.threads, _local_processes(world))
    keep_freed_memory()  # before the first batch is allocated: every step reuses the last one's memory
    _setup_determinism(config)
    amp = amp_dtype(device, config.amp)
    distributed.init(world, device)
    try:
        return _train(
            request, config, world, device, amp, progress if world.main else NULL_REPORTER, stop or StopFlag()
        )
    finally:
        distributed.shutdown(world)


def _local_processes(world: World) -> int:
    import os

    return int(os.environ.get("LOCAL_WORLD_SIZE", world.size))


def _train(
    request: TrainRequest,
    config: TrainConfig,
    world: World,
    device: torch.device,
    amp: torch.dtype | None,
    progress: Reporter,
    stop: StopFlag,
) -> TrainResult:
    resuming = request.resume is not None
    with contextlib.ExitStack() as held:
        if resuming and world.main:  # one trainer per run folder; what a killed one left half-written is swept
            held.enter_context(runs.claim(request.resume, sweep=True))
        # a new run's folder is made only once everything it needs is here (data, network, starting weights):
        # a start that fails (no network, a bad spec, a missing dataset) leaves the runs folder as it was
        start = starting_point(config.init, config.out) if config.init and not resuming else None
        size = tuple(start.metadata.input_shape[1:]) if start else None
        data = load_train_data(config, device, world, progress, image_size=size)  # type: ignore[arg-type]
        if start is not None:
            check_input(start, data.info)
            config = replace(config, model=start.metadata.architecture.name or start.metadata.architecture.spec)
        model, architecture = _build(config, data, device, world, start)
        if not config.compile:
            eager.skip_dynamo()  # 4 s of CPU saved: see core/runtime/eager.py
        optimizer = _optimizer(config, model)
        state = TrainingState()
        if request.resume is not None:
            run_dir = request.resume
            state = load_state(run_dir / runs.STATE, model, optimizer)
        else:
            run_dir = _new_run_dir(request, config, world, device)
            if world.main:
                held.enter_context(runs.claim(run_dir))
        provenance = {"init_from": start.record()} if start else {}
        writer = RunWriter(run_dir, config, architecture, data.info, provenance) if world.main else NullRunWriter()
        try:
            writer.write_config()
            writer.write_metrics(state.history)  # the state's history is the truth after a crash
        except BaseException:
            if not resuming and world.main:
                runs.discard_new_run(run_dir)
            raise
        network = model
        if config.compile:
            network = torch.compile(network)  # type: ignore[assignment]
        if world.distributed:
            network = nn.parallel.DistributedDataParallel(
                network, device_ids=[device.index] if device.type == "cuda" else None
            )

        def checkpoint(current: TrainingState) -> None:
            writer.save_state(model, optimizer, current)

        def end_of_epoch(current: TrainingState, record: EpochRecord, improved: bool) -> None:
            # the models first, then the state (the commit: a resume starts from it and rewrites metrics.jsonl from
            # its history), then metrics.jsonl: a kill between two of these loses nothing the state has
            writer.save_model(runs.LAST, model, record)
            if improved:
                writer.save_model(runs.BEST, model, record)
            writer.save_state(model, optimizer, current)
            writer.write_metrics(current.history)
            writer.plot(current.history)

        trainer = Trainer(
            config=config,
            world=world,
            device=device,
            amp=amp,
            model=network,
            optimizer=optimizer,
            data=data,
            state=state,
            progress=progress,
            stop=stop,
            on_checkpoint=checkpoint,
            on_epoch=end_of_epoch,
        )
        reason = trainer.run(run_hint=f"resume with: cnn train --resume {run_dir}")
        final = EpochRecord.from_row(state.history[-1]) if state.history else None
        if reason in (StopReason.MAX_STEPS, StopReason.MAX_TIME) and state.step_in_epoch and world.main:
            final = _final_scores(trainer, state)
            writer.save_model(runs.LAST, model, final)
            if config.val_split and not (run_dir / runs.BEST).exists():  # the only candidate yet
                writer.save_model(runs.BEST, model, final)
        return _result(run_dir, config, state, reason, final, device, amp)


def _final_scores(trainer: Trainer, state: TrainingState) -> EpochRecord:
    """The scores of a run stopped mid-epoch, at the fraction of the epoch it reached."""
    val, test = trainer.scores()
    return EpochRecord(
        epoch=state.epoch + state.step_in_epoch / max(trainer.steps_per_epoch, 1),
        step=state.step,
        val_loss=val.loss if val else None,
        val_accuracy=val.accuracy if val else None,
        test_loss=test.loss,
        test_accuracy=test.accuracy,
        elapsed=state.elapsed,
    )


def _result(
    run_dir: Path,
    config: TrainConfig,
    state: TrainingState,
    reason: StopReason,
    final: EpochRecord | None,
    device: torch.device,
    amp: torch.dtype | None,
) -> TrainResult:
    history = [EpochRecord.from_row(row) for row in state.history]
    # without a hold-out nothing chose an epoch: the last model is handed over and no best is claimed
    best = next((record for record in history if record.epoch == state.best_epoch), final) if config.val_split else None
    return TrainResult(
        run_dir=run_dir,
        model_path=run_dir / (runs.BEST if config.val_split else runs.LAST),
        last_path=run_dir / runs.LAST,
        config=config,
        epochs_run=state.epoch,
        steps=state.step,
        stopped_because=reason,
        train_seconds=state.elapsed,
        images_per_second=state.images / state.elapsed if state.elapsed > 0 else math.nan,
        final=final,
        best=best,
        device=str(device),
        amp=str(amp).removeprefix("torch.") if amp else None,
        history=history,
    )
