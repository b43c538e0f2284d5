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

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cnncli.core.inference.images import refuse_bombs
from cnncli.core.inference.inputs import Input
from cnncli.core.inference.model import InferenceModel
from cnncli.core.inference.pipeline import (
    Classifier,
    Failure,
    Outcome,
    PredictSettings,
    classify,
    prepare_input,
)
from cnncli.core.inference.prepare import Recipe
from cnncli.core.reporting import NULL_REPORTER, Reporter


class Predictor(Classifier[InferenceModel]):
    """A model with its recipe, ready to classify images a batch at a time."""

    def __init__(self, model: InferenceModel, settings: PredictSettings | None = None) -> None:
        super().__init__(model, settings)
        self.normaliser = model.normaliser()

    def run(self, inputs: Iterable[Input], progress: Reporter = NULL_REPORTER) -> Iterator[Outcome]:
        """One outcome per input, in order, as soon as its batch is classified."""
        inputs = list(inputs)
        refuse_bombs()
        task = progress.start("predicting", total=len(inputs), unit="img")
        # a batch larger than the inputs is the same batch (and Python's islice refuses sizes past 2**63)
        batch_size = max(1, min(self.settings.batch_size, len(inputs)))
        workers = min(
            self.settings.workers_for(len(inputs)), -(-len(inputs) // batch_size)
        )  # no worker without a batch
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

    def _classify(self, sources: list[Input], prepared: list[np.ndarray | Failure]) -> list[Outcome]:
        return classify(sources, prepared, self._logits, self.model.classes, self.top_k, self.settings.keep_seen)

    @torch.inference_mode()
    def _logits(self, images: np.ndarray) -> np.ndarray:
        batch = torch.from_numpy(images).to(self.model.device)
        return self.model.network(self.normaliser(batch)).float().cpu().numpy()


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
