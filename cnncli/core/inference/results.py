"""What `cnn eval` asks and answers, whichever engine runs the model (torch, or ONNX Runtime): no torch here.

The ONNX path builds the same EvalResult from numpy arrays, so the CLI renders both alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnncli.core.data.catalog import DatasetInfo
from cnncli.core.errors import BadInput, UsageError
from cnncli.core.inference.metrics import ClassificationReport
from cnncli.core.modelfile.metadata import ModelMetadata
from cnncli.core.units import format_dims

EVAL_SPLITS = ("test", "train", "val")
# On a CPU a batch whose activations stay in the caches runs about twice as fast as one of 1000 (the
# first conv's output for 128 MNIST images is 6 MB); accelerators want big batches.
CPU_BATCH = 128


@dataclass(frozen=True)
class EvalRequest:
    model: str | None = None  # a model file or run folder; None: the latest run's best model
    dataset: str | None = None  # None: the one the model was trained on
    split: str = "test"  # test, train, or val (the holdout `cnn train --val-split` made)
    batch_size: int | None = None  # None: CPU_BATCH on a CPU, EVAL_BATCH on an accelerator
    device: str = "auto"
    data_dir: str | None = None
    offline: bool = False
    top_k: int = 5  # capped at the number of classes
    keep_wrong: int = 0  # how many of the most confidently wrong images to return
    runs_dir: str = "runs"

    def validate(self) -> EvalRequest:
        if self.split not in EVAL_SPLITS:
            raise UsageError(f"unknown split '{self.split}'", "the splits are test, train and val")
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1, not {self.top_k}")
        if self.keep_wrong < 0:
            raise UsageError(f"--errors-count must be at least 0, not {self.keep_wrong}")
        return self


@dataclass(frozen=True)
class WrongImage:
    index: int  # in the dataset split it came from (train, for val)
    true: int
    predicted: int
    confidence: float  # the probability the model gave its wrong answer
    pixels: Any  # numpy array, uint8 C x H x W, as stored in the dataset


@dataclass(frozen=True)
class EvalResult:
    model_path: Path
    model: Any  # InferenceModel (torch) or OnnxModel: path, metadata, classes, device
    dataset: DatasetInfo
    split: str
    count: int
    loss: float  # mean cross-entropy (no label smoothing)
    accuracy: float
    top_k: int
    top_k_accuracy: float
    report: ClassificationReport
    wrong: tuple[WrongImage, ...]  # most confident first
    predicted: Any  # each image's predicted class, in the split's order: int64 tensor, or numpy array (ONNX)
    seconds: float  # the pass over the split: normalising, the network, the scoring

    @property
    def images_per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0


def describe_input(channels: int, height: int, width: int, classes: tuple[str, ...]) -> str:
    shown = ", ".join(classes[:10]) + (", ..." if len(classes) > 10 else "")
    return f"{format_dims((channels, height, width))} images of {len(classes)} classes ({shown})"


def check_dataset_fits(path: Path, meta: ModelMetadata, info: DatasetInfo) -> None:
    """The dataset must have the model's image shape and exactly its classes, in its order."""
    wanted = (*meta.input_shape, meta.classes)
    found = (info.channels, info.height, info.width, tuple(info.classes))
    if wanted == found:
        return
    raise BadInput(
        f"model {path} takes {describe_input(*wanted)}, but dataset {info.name} has {describe_input(*found)}",
        f"evaluate it on the dataset it was trained on ({meta.dataset.name}), or one with the same images and classes",
    )
