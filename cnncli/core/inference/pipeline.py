"""The engine-free half of `cnn predict`: settings, what a predictor holds, outcomes, preparing one input,
and turning a batch's logits into predictions. Shared by the torch Predictor (predict.py) and the ONNX
one (onnx_predict.py), so both prepare the same uint8 pixels (prepare.py) and rank classes the same way;
no torch here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import numpy as np

from cnncli.core.errors import UsageError
from cnncli.core.inference.images import ImageError, read_picture
from cnncli.core.inference.inputs import Input, MissingInput
from cnncli.core.inference.prepare import PrepareOptions, Recipe, recipe_for

MAX_WORKERS = 8  # the default's ceiling: past it, decoding outruns the network anyway
WORKER_LIMIT = 64  # what --workers accepts: each worker is a process of its own
FEW_INPUTS = 64  # fewer inputs than this are prepared in this process: no workers to start


@dataclass(frozen=True)
class PredictSettings:
    top_k: int = 1  # how many of the likeliest classes each prediction lists
    batch_size: int = 128  # images per call of the network: on a CPU, a batch that stays in the caches
    workers: int | None = None  # decoding processes; None: one per core (at most MAX_WORKERS); 0: none
    options: PrepareOptions = field(default_factory=PrepareOptions)
    keep_seen: bool = False  # keep the model-size image the network saw (for --show)

    def validate(self) -> PredictSettings:
        if self.top_k < 1:
            raise UsageError(f"--top-k must be at least 1, not {self.top_k}")
        if self.batch_size < 1:
            raise UsageError(f"--batch-size must be at least 1, not {self.batch_size}")
        if self.workers is not None and not 0 <= self.workers <= WORKER_LIMIT:
            raise UsageError(
                f"--workers must be from 0 to {WORKER_LIMIT}, not {self.workers}",
                "each worker is a process of its own; the default is one per core",
            )
        return self

    def workers_for(self, count: int) -> int:
        """Decoding processes: by default one per core, and none for a few images (starting them would
        cost more than they save)."""
        if self.workers is not None:
            return self.workers
        return 0 if count < FEW_INPUTS else min(MAX_WORKERS, os.cpu_count() or 1)


class Classified(Protocol):
    """A model either engine runs: its metadata (for the preparation) and its classes."""

    @property
    def metadata(self) -> Any: ...

    @property
    def classes(self) -> Sequence[str]: ...


M = TypeVar("M", bound=Classified)


class Classifier(Generic[M]):
    """What both predictors hold: the model, the settings, the recipe that prepares a picture for the model,
    and how many of its classes to rank."""

    def __init__(self, model: M, settings: PredictSettings | None = None) -> None:
        self.model = model
        self.settings = (settings or PredictSettings()).validate()
        self.recipe: Recipe = recipe_for(model.metadata.preprocessing, self.settings.options)
        self.top_k = min(self.settings.top_k, len(model.classes))


@dataclass(frozen=True)
class Prediction:
    name: str  # the input as the user named it
    label: str  # the likeliest class
    index: int  # its index in the model's classes
    confidence: float  # its softmax probability
    top: tuple[tuple[str, float], ...]  # the top_k classes with their probabilities, likeliest first
    seen: np.ndarray | None = None  # uint8 C x H x W: what the network saw, when asked to keep it


@dataclass(frozen=True)
class Failure:
    name: str
    error: str  # one line


Outcome = Prediction | Failure


def prepare_input(item: Input, recipe: Recipe) -> np.ndarray | Failure:
    """One input as the network's uint8 input, or why it cannot be; never raises."""
    if isinstance(item, MissingInput):
        return Failure(item.name, item.reason)
    try:
        return recipe(read_picture(item, colour=recipe.colour))
    except ImageError as error:
        return Failure(item.name, error.message)
    except MemoryError:
        return Failure(item.name, "not enough memory to decode it")
    except Exception as error:  # a fault of ours on a strange image: that image fails, the batch goes on
        return Failure(item.name, f"internal error: {type(error).__name__}: {error}")


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (so the probabilities do not depend on the engine's float32 rounding)."""
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def classify(
    sources: list[Input],
    prepared: list[np.ndarray | Failure],
    logits_of: Callable[[np.ndarray], np.ndarray],
    classes: tuple[str, ...],
    top_k: int,
    keep_seen: bool,
) -> list[Outcome]:
    """One outcome per input: the prepared ones stacked into one batch for `logits_of` (uint8 N x C x H x W
    -> float N x classes), the failures in their places."""
    ready = [(i, pixels) for i, pixels in enumerate(prepared) if not isinstance(pixels, Failure)]
    outcomes: list[Outcome | None] = [p if isinstance(p, Failure) else None for p in prepared]
    if ready:
        probabilities = softmax(logits_of(np.stack([pixels for _, pixels in ready])))
        # stable, so equal probabilities rank in class order
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
        for row, (position, pixels) in enumerate(ready):
            top = tuple((classes[c], float(probabilities[row, c])) for c in ranked[row])
            seen = pixels if keep_seen else None
            outcomes[position] = Prediction(
                sources[position].name, top[0][0], int(ranked[row, 0]), top[0][1], top, seen
            )
    return [o for o in outcomes if o is not None]
