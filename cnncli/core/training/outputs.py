"""What a run writes into its folder: models, the state, metrics.jsonl, config.toml and curves.png.

Every file is written atomically. The training state holds the metrics history too, so metrics.jsonl is
rewritten from it and can never disagree with the state a resume starts from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import torch
from torch import nn

from cnncli.core.atomic import atomic_write_text, atomic_write_with
from cnncli.core.data.catalog import DatasetInfo
from cnncli.core.modelfile import runs
from cnncli.core.modelfile.metadata import ArchitectureInfo, DatasetRecord, ModelMetadata, Preprocessing
from cnncli.core.modelfile.weights import save_model
from cnncli.core.plotting import pyplot
from cnncli.core.training.checkpoint import TrainingState, save_state
from cnncli.core.training.config import TrainConfig
from cnncli.core.training.records import EpochRecord

MIN_CURVE_EPOCHS = 2  # curves.png joins epochs: one point is no curve


@dataclass(frozen=True)
class RunWriter:
    """Writes one run's files; only the main process of a distributed run has one."""

    run_dir: Path
    config: TrainConfig
    architecture: ArchitectureInfo
    info: DatasetInfo
    provenance: dict[str, Any] = field(default_factory=dict)  # added to [training]: init_from (--init)

    def write_config(self) -> None:
        atomic_write_text(self.run_dir / runs.CONFIG, tomli_w.dumps(self.config.to_dict()))

    def metadata(self, metrics: EpochRecord) -> ModelMetadata:
        info = self.info
        return ModelMetadata(
            architecture=self.architecture,
            input_shape=(info.channels, info.height, info.width),
            classes=tuple(info.classes),
            preprocessing=Preprocessing(
                info.channels, (info.height, info.width), tuple(info.mean), tuple(info.std), info.prepare
            ),
            dataset=DatasetRecord(info.name, info.checksum),
            training={**self.config.to_dict(), **self.provenance},
            metrics=metrics.row(),
        )

    def save_model(self, filename: str, model: nn.Module, metrics: EpochRecord) -> Path:
        path = save_model(self.run_dir / filename, model, self.metadata(metrics))
        runs.set_latest(self.run_dir)
        return path

    def save_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
        save_state(self.run_dir / runs.STATE, model, optimizer, state)

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(row) + "\n" for row in history)
        atomic_write_text(self.run_dir / runs.METRICS, text)

    def _curve_label(self, split: str) -> str:
        """What each curve is. The train figures are running means over the epoch as the optimiser saw them
        (with label smoothing, which lifts the loss floor, and augmentation), so they sit above the plain
        cross-entropy of val and test: not comparable, and the legend says so."""
        if split != "train":
            return f"{split}: plain cross-entropy, model at epoch end"
        how = [f"label smoothing {self.config.label_smoothing:g}"] if self.config.label_smoothing else []
        how += ["augmented"] if self.config.augment else []
        return "train: running mean while learning" + (f" ({', '.join(how)})" if how else "")

    def plot(self, history: list[dict[str, Any]]) -> bool:
        """curves.png, when matplotlib (the plot extra) is installed and there are two epochs or more to join;
        returns whether it was drawn. A one-epoch run has no curve to draw, and matplotlib's import and one
        figure would be most of what it spends outside training (benchmarks/epoch_overhead.py)."""
        records = [EpochRecord.from_row(row) for row in history]
        if len(records) < MIN_CURVE_EPOCHS:
            return False
        plt = pyplot()
        if plt is None:
            return False
        epochs = [record.epoch for record in records]
        figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
        for split in ("train", "val", "test"):
            losses = [getattr(record, f"{split}_loss") for record in records]
            if any(loss is not None for loss in losses):
                accuracies = [getattr(record, f"{split}_accuracy") for record in records]
                label = self._curve_label(split)
                loss_axes.plot(epochs, losses, marker="o", label=label)
                accuracy_axes.plot(
                    epochs, [100 * (a if a is not None else float("nan")) for a in accuracies], marker="o", label=label
                )
        loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
        accuracy_axes.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        for axes in (loss_axes, accuracy_axes):
            axes.grid(alpha=0.3)
            axes.legend(fontsize="small")
        figure.suptitle(f"{self.run_dir.name}: {self.config.model} on {self.config.dataset}")
        figure.tight_layout()
        atomic_write_with(self.run_dir / runs.CURVES, lambda temp: figure.savefig(temp, format="png", dpi=100))
        plt.close(figure)
        return True


class NullRunWriter:
    """What the other processes of a distributed run write: nothing (rank 0 alone owns the run folder)."""

    def write_config(self) -> None:
        pass

    def save_model(self, filename: str, model: nn.Module, metrics: EpochRecord) -> None:
        pass

    def save_state(self, model: nn.Module, optimizer: torch.optim.Optimizer, state: TrainingState) -> None:
        pass

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        pass

    def plot(self, history: list[dict[str, Any]]) -> bool:
        return False
