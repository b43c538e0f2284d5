"""`cnn predict`'s core: images in, one outcome per input out, in input order, streamed.

    predictor = Predictor(open_model(None), PredictSettings(top_k=3))
    for outcome in predictor.run(expand_inputs(["digits/"]), progress):
        ...  # Prediction(name, label, confidence, top, seen) or Failure(name, error)

Reading and preparing the images runs in DataLoader worker processes (the recipes are many small
numpy steps, which threads would serialise on the GIL), a couple of batches ahead of the network,
which classifies whole batches in inference mode. A bad input becomes a Failure in its place, and the
batch goes on.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cnncli.core.errors import UsageError
from cnncli.core.inference.images import ImageError, read_picture, refuse_bombs
from cnncli.core.inference.inputs import Input, MissingInput
from cnncli.core.inference.model import InferenceModel
from cnncli.core.inference.prepare import PrepareOptions, Recipe, recipe_for
from cnncli.core.reporting import NULL_REPORTER, Reporter

MAX_WORKERS = 8  # the default's ceiling: past it, decoding outruns the network anyway
WORKER_LIMIT = 64  # what --workers accepts: each worker is a process with its own copy of torch
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


class Predictor:
    """A model with its recipe, ready to classify images a batch at a time."""

    def __init__(self, model: InferenceModel, settings: PredictSettings | None = None) -> None:
        self.model = model
        self.settings = (settings or PredictSettings()).validate()
        self.recipe: Recipe = recipe_for(model.metadata.preprocessing, self.settings.options)
        self.top_k = min(self.settings.top_k, len(model.classes))
        self.normaliser = model.normaliser()

    def run(self, inputs: Iterable[Input], progress: Reporter = NULL_REPORTER) -> Iterator[Outcome]:
        """One outcome per input, in order, as soon as its batch is classified."""
        inputs = list(inputs)
        refuse_bombs()
        task = progress.start("predicting", total=len(inputs), unit="img")
        # a batch larger than the inputs is the same batch (and Python's islice refuses sizes past 2**63)
        batch_size = max(1, min(self.settings.batch_size, len(inputs)))
        workers = min(self._workers(len(inputs)), -(-len(inputs) // batch_size))  # no worker without a batch
        threads = torch.get_num_threads()
        if self.model.device.type == "cpu" and workers:
            # the cores are shared between the decoding workers and the network. Left at all cores,
            # torch's threads spin between batches on the cores the workers need (half the speed on 2)
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - workers))
        loader = DataLoader(
            _PreparedInputs(inputs, self.recipe),
            batch_size=batch_size,
            num_workers=workers,
            collate_fn=list,  # arrays and Failures side by side: stacked later, once the failures are out
            worker_init_fn=_start_worker,
        )
        failed = 0
        try:
            for start, prepared in zip(itertools.count(0, batch_size), loader, strict=False):
                outcomes = self._classify(inputs[start : start + len(prepared)], prepared)
                failed += sum(isinstance(o, Failure) for o in outcomes)
                yield from outcomes
                progress.update(task, advance=len(prepared))
        finally:
            torch.set_num_threads(threads)
        done = len(inputs) - failed
        progress.finish(task, f"{done:,} predicted" + (f", {failed:,} failed" if failed else ""), ok=not failed)

    def _workers(self, count: int) -> int:
        """Decoding processes: by default one per core, and none for a few images (starting them would
        cost more than they save)."""
        if self.settings.workers is not None:
            return self.settings.workers
        return 0 if count < FEW_INPUTS else min(MAX_WORKERS, os.cpu_count() or 1)

    @torch.inference_mode()
    def _classify(self, sources: list[Input], prepared: list[np.ndarray | Failure]) -> list[Outcome]:
        ready = [(i, pixels) for i, pixels in enumerate(prepared) if not isinstance(pixels, Failure)]
        outcomes: list[Outcome | None] = [p if isinstance(p, Failure) else None for p in prepared]
        if ready:
            batch = torch.from_numpy(np.stack([pixels for _, pixels in ready])).to(self.model.device)
            logits = self.model.network(self.normaliser(batch)).float()
            probabilities, indices = torch.softmax(logits, dim=1).topk(self.top_k, dim=1)
            classes = self.model.classes
            for row, (position, pixels) in enumerate(ready):
                source = sources[position]
                top = tuple(
                    (classes[c], p) for c, p in zip(indices[row].tolist(), probabilities[row].tolist(), strict=True)
                )
                seen = pixels if self.settings.keep_seen else None
                outcomes[position] = Prediction(source.name, top[0][0], indices[row, 0].item(), top[0][1], top, seen)
        return [o for o in outcomes if o is not None]


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


class _PreparedInputs(Dataset):
    """The inputs, each read and prepared by whichever process asks: a DataLoader worker, or this one."""

    def __init__(self, inputs: list[Input], recipe: Recipe) -> None:
        self.inputs, self.recipe = inputs, recipe

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, index: int) -> np.ndarray | Failure:
        return prepare_input(self.inputs[index], self.recipe)


def _start_worker(_worker: int) -> None:
    refuse_bombs()  # the warnings filter, in a worker started by spawn rather than fork
    torch.set_num_threads(1)  # a worker decodes; it never runs the network
