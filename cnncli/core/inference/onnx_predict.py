"""`cnn predict` on an exported model: the Predictor's pipeline with ONNX Runtime in place of torch.

Same inputs, same preparation (pipeline.prepare_input, prepare.py), same ranking (pipeline.classify);
images are decoded in worker processes from a forkserver (this process holds ONNX Runtime's threads,
which a plain fork would copy mid-flight), a chunk of images per task, in input order.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from itertools import islice

from cnncli.core.inference.images import refuse_bombs
from cnncli.core.inference.inputs import Input
from cnncli.core.inference.pipeline import Classifier, Failure, Outcome, classify, prepare_input
from cnncli.core.modelfile.onnxfile import OnnxModel
from cnncli.core.reporting import NULL_REPORTER, Reporter

CHUNK = 16  # images per task sent to a worker: fewer round trips, still even across workers
WINDOW = 4096  # inputs handed to the pool at a time: map() submits all it is given, and a folder may hold millions


class OnnxPredictor(Classifier[OnnxModel]):
    """An exported model with its recipe, ready to classify images a batch at a time."""

    def run(self, inputs: Iterable[Input], progress: Reporter = NULL_REPORTER) -> Iterator[Outcome]:
        inputs = list(inputs)
        refuse_bombs()
        task = progress.start("predicting", total=len(inputs), unit="img")
        batch_size = max(1, min(self.settings.batch_size, len(inputs)))
        workers = min(self.settings.workers_for(len(inputs)), -(-len(inputs) // CHUNK))
        prepare = partial(prepare_input, recipe=self.recipe)
        failed, done = 0, 0
        with _pool(workers) as pool:
            prepared = _prepared(pool, prepare, inputs)
            while done < len(inputs):
                batch = list(islice(prepared, batch_size))
                outcomes = classify(
                    inputs[done : done + len(batch)],
                    batch,
                    self.model.logits,
                    self.model.classes,
                    self.top_k,
                    self.settings.keep_seen,
                )
                failed += sum(isinstance(o, Failure) for o in outcomes)
                done += len(batch)
                yield from outcomes
                progress.update(task, advance=len(batch))
        ok = len(inputs) - failed
        progress.finish(task, f"{ok:,} predicted" + (f", {failed:,} failed" if failed else ""), ok=not failed)


def _prepared(pool: ProcessPoolExecutor | None, prepare, inputs: list[Input]) -> Iterator:
    for start in range(0, len(inputs), WINDOW):
        window = inputs[start : start + WINDOW]
        yield from pool.map(prepare, window, chunksize=CHUNK) if pool else map(prepare, window)


class _pool:
    """A forkserver process pool of `workers`, or None for none (a few images are decoded here)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> ProcessPoolExecutor | None:
        if self.workers:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["cnncli.core.inference.pipeline"])
            self.executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=refuse_bombs)
        return self.executor

    def __exit__(self, *exc: object) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
