"""What one epoch of training measured, and why a run stopped: the records the loop hands to the rest.

Pure Python: metrics.jsonl, the training state's history, a model's metadata and the `cnn train --json`
document are all written from an EpochRecord's `row()`, so the names of the figures have one home.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any


class StopReason(StrEnum):
    """Why `Trainer.run` ended; the value is what `cnn train --json` prints as `stopped`."""

    COMPLETED = "completed"
    PATIENCE = "patience"  # --patience epochs without a better selection accuracy
    MAX_STEPS = "max_steps"
    MAX_TIME = "max_time"
    SIGNAL = "signal"  # Ctrl-C or SIGTERM: the state is saved and the command exits 130 or 143


@dataclass(frozen=True)
class EpochRecord:
    """One row of metrics.jsonl. The field order is the row's key order; None means "not measured"."""

    epoch: float  # whole after an epoch's end; fractional for the scores of a run stopped mid-epoch
    step: int
    train_loss: float | None = None  # with label smoothing and augmentation, as the optimiser saw it
    train_accuracy: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    test_loss: float | None = None
    test_accuracy: float | None = None
    lr: float | None = None
    images_per_second: float | None = None
    epoch_seconds: float | None = None
    elapsed: float | None = None  # training seconds so far, evaluations excluded
    eval_seconds: float | None = None

    @property
    def selection_accuracy(self) -> float | None:
        """The accuracy that chooses the best model: validation, never test (a model picked by its test score
        is scored too kindly by it). None without a hold-out: then no epoch is "best" and the last is handed over."""
        return self.val_accuracy

    def row(self) -> dict[str, Any]:
        """The record as metrics.jsonl and the training state store it: measured figures only."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EpochRecord:
        """A stored row (already checked by the state reader) back as a record; unknown keys are ignored."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in row.items() if key in known})
