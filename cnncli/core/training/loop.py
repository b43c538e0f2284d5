"""The training loop: epochs of seeded permutations, batched steps, an evaluation and a checkpoint each epoch.

Inside the step loop nothing waits for the device except where progress is shown: losses and correct
counts accumulate as device tensors and are read every `progress_every` steps, which is also where a
NaN is caught. Every random draw of a step follows from (seed, step, rank), and the state on disk is
one consistent moment, so a resumed run takes exactly the steps the uninterrupted one would have.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnncli.core.errors import Interrupted, Terminated, TrainingDiverged
from cnncli.core.nn.fold import inference_form
from cnncli.core.reporting import Reporter
from cnncli.core.runtime import eager
from cnncli.core.training.batches import BatchPreparer, epoch_permutation, step_seed
from cnncli.core.training.checkpoint import TrainingState
from cnncli.core.training.config import TrainConfig
from cnncli.core.training.data import TrainData
from cnncli.core.training.distributed import World, any_rank
from cnncli.core.training.records import EpochRecord, StopReason
from cnncli.core.training.schedule import lr_multiplier
from cnncli.core.training.scoring import Score, autocast, evaluate


class StopFlag:
    """Set by a signal handler (Ctrl-C, SIGTERM); the loop saves at the next step and stops."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def request(self, signum: int) -> None:
        self.signum = signum


@dataclass
class StepTotals:
    """Running sums of one epoch, kept on the device until progress is shown."""

    loss: torch.Tensor
    correct: torch.Tensor
    images: int = 0

    @classmethod
    def zero(cls, device: torch.device) -> StepTotals:
        return cls(torch.zeros((), device=device), torch.zeros((), dtype=torch.int64, device=device))


class Trainer:
    """One run's epochs. Its collaborators come by keyword: what it trains (model, optimizer, data, state),
    where (config, world, device, amp), and whom it tells (progress, stop, on_checkpoint, on_epoch)."""

    def __init__(
        self,
        *,
        config: TrainConfig,
        world: World,
        device: torch.device,
        amp: torch.dtype | None,
        model: nn.Module,
        optimizer: torch.optim.Optimizer,
        data: TrainData,
        state: TrainingState,
        progress: Reporter,
        stop: StopFlag,
        on_checkpoint: Callable[[TrainingState], None],
        on_epoch: Callable[[TrainingState, EpochRecord, bool], None],
    ) -> None:
        self.config, self.world, self.device, self.amp = config, world, device, amp
        self.model, self.optimizer, self.data, self.state = model, optimizer, data, state
        self.progress, self.stop = progress, stop
        self.on_checkpoint, self.on_epoch = on_checkpoint, on_epoch
        self.steps_per_epoch = len(data.train) // config.batch_size
        self.total_steps = self.steps_per_epoch * config.epochs
        self.prepare = BatchPreparer(data.normaliser, data.policy if config.augment else None)
        self.last_totals = StepTotals.zero(device)
        self.step_task = 0
        self.generator = torch.Generator(device=device)
        self.progress_every = max(1, self.steps_per_epoch // 50)
        self.stopped_because = StopReason.COMPLETED

    # -- one step --------------------------------------------------------------------------------

    def _set_lr(self, step: int) -> float:
        lr = self.config.lr * lr_multiplier(self.config.schedule, step, self.total_steps, self.config.warmup)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        return lr

    def _step(self, images: torch.Tensor, labels: torch.Tensor, totals: StepTotals) -> None:
        state, config = self.state, self.config
        seed = step_seed(config.seed, state.step, self.world.rank)
        torch.manual_seed(seed)  # dropout draws from the global generator
        self.generator.manual_seed(seed)
        inputs = self.prepare(images, self.generator)
        self._set_lr(state.step)
        with autocast(self.device, self.amp):
            logits = self.model(inputs)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=config.label_smoothing)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        eager.step(self.optimizer)
        totals.loss += loss.detach() * labels.shape[0]
        totals.correct += (logits.detach().argmax(1) == labels).sum()
        totals.images += labels.shape[0]
        state.step += 1
        state.step_in_epoch += 1

    # -- stopping --------------------------------------------------------------------------------

    def _should_stop(self, elapsed: float) -> StopReason | None:
        config = self.config
        reason = None
        if self.stop.signum is not None:
            reason = StopReason.SIGNAL
        elif config.max_steps and self.state.step >= config.max_steps:
            reason = StopReason.MAX_STEPS
        elif config.max_time and elapsed >= config.max_time:
            reason = StopReason.MAX_TIME
        if any_rank(reason is not None, self.world, self.device):
            return reason or StopReason.SIGNAL
        return None

    def _check_finite(self, totals: StepTotals) -> None:
        if not math.isfinite(totals.loss.item()):
            raise TrainingDiverged(
                f"the loss became {totals.loss.item()} at step {self.state.step} (epoch {self.state.epoch + 1})",
                f"the last good checkpoint is kept; try a lower --lr than {self.config.lr:g}, or --amp off",
            )

    def _raise_for_signal(self, run_hint: str) -> None:
        if self.stop.signum == signal.SIGTERM:
            raise Terminated("stopped by SIGTERM; the training state is saved", run_hint)
        raise Interrupted("interrupted; the training state is saved", run_hint)

    # -- epochs ----------------------------------------------------------------------------------

    def _epoch(self, epoch_task: int) -> StopReason | None:
        """Run (the rest of) one epoch; returns why it stopped early, or None when it finished."""
        state, config = self.state, self.config
        permutation = epoch_permutation(len(self.data.train), config.seed, state.epoch, self.device)
        batches = self.data.train.epoch_batches(
            permutation, state.step_in_epoch, self.steps_per_epoch, config.batch_size, self.world.rank, self.world.size
        )
        totals = StepTotals.zero(self.device)
        step_task = self.progress.start(
            f"epoch {state.epoch + 1}/{config.epochs}", total=self.steps_per_epoch, unit="step"
        )
        self.progress.update(step_task, completed=state.step_in_epoch)
        started = time.perf_counter()
        last_checkpoint = time.monotonic()
        base_elapsed, base_images = state.elapsed, state.images
        for images, labels in batches:
            reason = self._should_stop(base_elapsed + time.perf_counter() - started)
            if reason:
                self.progress.finish(step_task, f"stopped at step {state.step_in_epoch}", ok=False)
                self._account(started, base_elapsed, base_images, totals)
                return reason
            self._step(images, labels, totals)
            if state.step_in_epoch % self.progress_every == 0 or state.step_in_epoch == self.steps_per_epoch:
                self._check_finite(totals)
                seconds = time.perf_counter() - started
                self.progress.update(
                    step_task,
                    completed=state.step_in_epoch,
                    loss=totals.loss.item() / max(totals.images, 1),
                    accuracy=totals.correct.item() / max(totals.images, 1),
                    img_s=round(totals.images * self.world.size / max(seconds, 1e-9)),
                )
            if config.checkpoint_minutes and time.monotonic() - last_checkpoint >= 60 * config.checkpoint_minutes:
                self._account(started, base_elapsed, base_images, totals)
                self.on_checkpoint(state)
                started, base_elapsed, base_images = time.perf_counter(), state.elapsed, state.images
                last_checkpoint = time.monotonic()
        self._check_finite(totals)
        self._account(started, base_elapsed, base_images, totals)
        self.step_task = step_task  # finished with the epoch's verdict, after its evaluation
        self.last_totals = totals
        return None

    def _account(self, started: float, base_elapsed: float, base_images: int, totals: StepTotals) -> None:
        self.state.elapsed = base_elapsed + time.perf_counter() - started
        self.state.images = base_images + totals.images * self.world.size

    def scores(self) -> tuple[Score | None, Score]:
        """Validation (if any) and test scores of the current model."""
        data, network = self.data, inference_form(unwrap(self.model))  # a copy: the model trains on unchanged
        val = evaluate(network, data.val.eval_batches(), data.normaliser, self.amp) if data.val else None
        test = evaluate(network, data.test.eval_batches(), data.normaliser, self.amp)
        return val, test

    def _end_epoch(self, epoch_seconds: float, epoch_images: int) -> EpochRecord:
        state, totals = self.state, self.last_totals
        eval_started = time.perf_counter()
        val, test = self.scores() if self.world.main else (None, None)
        record = EpochRecord(
            epoch=state.epoch + 1,
            step=state.step,
            train_loss=totals.loss.item() / max(totals.images, 1),
            train_accuracy=totals.correct.item() / max(totals.images, 1),
            val_loss=val.loss if val else None,
            val_accuracy=val.accuracy if val else None,
            test_loss=test.loss if test else None,
            test_accuracy=test.accuracy if test else None,
            lr=self.optimizer.param_groups[0]["lr"],
            images_per_second=epoch_images / max(epoch_seconds, 1e-9),
            epoch_seconds=epoch_seconds,
            elapsed=state.elapsed,
            eval_seconds=time.perf_counter() - eval_started,
        )
        state.epoch += 1
        state.step_in_epoch = 0
        selection = record.selection_accuracy
        improved = selection is not None and selection > state.best_accuracy
        if improved:
            state.best_accuracy, state.best_epoch, state.stale_epochs = selection, state.epoch, 0
        else:
            state.stale_epochs += 1
        state.history.append(record.row())
        self.on_epoch(state, record, improved)
        self.progress.finish(self.step_task, epoch_line(record, improved), ok=True)
        return record

    def run(self, run_hint: str) -> StopReason:
        """Train to the end (or a stop); returns why it ended: completed, patience, max_steps, max_time."""
        state, config = self.state, self.config
        self.model.train()
        epochs_task = self.progress.start("epochs", total=config.epochs, unit="epoch")
        self.progress.update(epochs_task, completed=state.epoch)
        while state.epoch < config.epochs:
            before_elapsed, before_images = state.elapsed, state.images
            reason = self._epoch(epochs_task)
            if reason:
                self.on_checkpoint(state)
                ok = reason != StopReason.SIGNAL
                self.progress.finish(epochs_task, f"stopped: {reason.replace('_', ' ')}", ok=ok)
                if not ok:
                    self._raise_for_signal(run_hint)
                self.stopped_because = reason
                return reason
            self._end_epoch(state.elapsed - before_elapsed, state.images - before_images)
            self.progress.update(epochs_task, completed=state.epoch)
            # only rank 0 evaluates, so its verdict on patience is everyone's
            out_of_patience = bool(config.patience) and state.stale_epochs >= config.patience
            if any_rank(self.world.main and out_of_patience, self.world, self.device) and state.epoch < config.epochs:
                self.stopped_because = StopReason.PATIENCE
                self.progress.message(f"no better accuracy for {config.patience} epochs: stopping early")
                break
        self.progress.finish(epochs_task, f"{state.epoch} epochs, {state.elapsed:.1f} s of training", ok=True)
        return self.stopped_because


def epoch_line(record: EpochRecord, improved: bool) -> str:
    """One epoch's verdict: train loss and accuracy, validation and test accuracy, speed, time so far."""
    parts = [f"loss {record.train_loss:.4f}", f"train {100 * (record.train_accuracy or 0):.2f}%"]
    if record.val_accuracy is not None:
        parts.append(f"val {100 * record.val_accuracy:.2f}%")
    if record.test_accuracy is not None:
        parts.append(f"test {100 * record.test_accuracy:.2f}%")
    if improved:
        parts.append("(best)")
    parts.append(f"{record.images_per_second:,.0f} img/s")
    parts.append(f"{record.elapsed:.1f} s")
    return "  ".join(parts)


def unwrap(model: nn.Module) -> nn.Module:
    """The plain network inside DDP and torch.compile wrappers."""
    inner = getattr(model, "module", model)
    return getattr(inner, "_orig_mod", inner)
