"""`cnn eval`'s core: a model against a labelled split, with everything worth knowing about its mistakes.

    result = evaluate_model(EvalRequest(model="runs/lean-mnist-1", split="test", keep_wrong=25), progress)
    result.accuracy, result.loss, result.top_k_accuracy, result.report (per class, confusion), result.wrong

The split is one uint8 tensor on the device (a folder too big for memory streams through a DataLoader),
batches are slices of it, normalised with the model's own mean and std, run in inference mode; nothing
waits for the device until the whole split has been through.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnncli.core.data import load_split
from cnncli.core.data.split import Split, stratified_holdout
from cnncli.core.errors import UsageError
from cnncli.core.inference.metrics import classification_report
from cnncli.core.inference.model import InferenceModel, check_dataset, open_model
from cnncli.core.inference.results import CPU_BATCH, EvalRequest, EvalResult, WrongImage
from cnncli.core.reporting import NULL_REPORTER, Reporter
from cnncli.core.runtime.normalise import Normaliser
from cnncli.core.runtime.sources import EVAL_BATCH, Batch, Source, source_for


def evaluate_model(request: EvalRequest, progress: Reporter = NULL_REPORTER) -> EvalResult:
    request.validate()
    model = open_model(request.model, request.device, request.runs_dir)
    split, chosen = _load(request, model, progress)
    check_dataset(model, split.info)
    source = source_for(split, chosen, model.device, workers=min(4, os.cpu_count() or 1))
    if len(source) == 0:
        raise UsageError(f"the {request.split} split of {split.info.name} holds no images")
    top_k = min(request.top_k, len(model.classes))
    started = time.perf_counter()
    batch_size = request.batch_size or (CPU_BATCH if model.device.type == "cpu" else EVAL_BATCH)
    scores = _score(model, source, top_k, batch_size, progress)
    seconds = time.perf_counter() - started
    matrix = _confusion(scores.truth, scores.predicted, len(model.classes))
    report = classification_report(matrix, model.classes)
    return EvalResult(
        model_path=model.path,
        model=model,
        dataset=split.info,
        split=request.split,
        count=len(source),
        loss=scores.loss,
        accuracy=report.accuracy,
        top_k=top_k,
        top_k_accuracy=scores.top_k_hits / len(source),
        report=report,
        wrong=_most_confidently_wrong(scores, split, chosen, request.keep_wrong),
        predicted=scores.predicted,
        seconds=seconds,
    )


def _load(request: EvalRequest, model: InferenceModel, progress: Reporter) -> tuple[Split, torch.Tensor | None]:
    """The split, and for val the indices of the training split that `cnn train --val-split` held out."""
    training = model.metadata.training
    seed = int(training.get("seed", 0))
    fraction = float(training.get("val_split", 0.0) or 0.0)
    if request.split == "val" and fraction <= 0:
        raise UsageError(
            f"{model.path} was trained without a validation split, so --split val has no images",
            "use --split test or --split train (cnn train --val-split FRACTION holds one out)",
        )
    split = load_split(
        request.dataset or model.metadata.dataset.name,
        "train" if request.split == "val" else request.split,
        data_dir=request.data_dir,
        download=not request.offline,
        offline=request.offline,
        progress=progress,
        seed=seed,  # a folder without train/ and test/ is split the way its training run split it
    )
    if request.split != "val":
        return split, None
    return split, stratified_holdout(split.labels, fraction, seed)[1]


@dataclass
class _Scores:
    loss: float
    top_k_hits: int
    truth: torch.Tensor  # on the CPU, one per image, in the source's order
    predicted: torch.Tensor
    confidence: torch.Tensor


def _score(model: InferenceModel, source: Source, top_k: int, batch_size: int, progress: Reporter) -> _Scores:
    """Every batch through the network. On a CPU several batches run at once, each on one core (one per
    thread torch may use), rather than each op split across the cores: no core then waits at the end of
    every op for the slowest, which on a machine shared with other work halves the speed."""
    normaliser = model.normaliser()
    task = progress.start("evaluating", total=len(source), unit="img")
    threads = torch.get_num_threads()
    lanes = threads if model.device.type == "cpu" else 1
    parts = []
    torch.set_num_threads(1 if lanes > 1 else threads)
    try:
        with ThreadPoolExecutor(max_workers=lanes, thread_name_prefix="cnn-eval") as pool:
            work = partial(_batch_scores, model.network, normaliser, top_k)
            for part in in_order(pool, work, source.eval_batches(batch_size), window=2 * lanes):
                parts.append(part)
                progress.update(task, advance=len(part[2]))
    finally:
        torch.set_num_threads(threads)
    loss, hits, truth, predicted, confidence = zip(*parts, strict=True)
    scores = _Scores(
        float(torch.stack(loss).sum()) / len(source),
        int(torch.stack(hits).sum()),
        torch.cat(truth).cpu(),
        torch.cat(predicted).cpu(),
        torch.cat(confidence).cpu(),
    )
    accuracy = float((scores.truth == scores.predicted).float().mean())
    progress.finish(task, f"{len(source):,} images, accuracy {100 * accuracy:.2f}%")
    return scores


@torch.inference_mode()  # per thread: inference mode is thread-local, so it is entered here
def _batch_scores(network: nn.Module, normaliser: Normaliser, top_k: int, batch: Batch) -> tuple:
    """One batch's loss sum and top-k hits, and its labels, predictions and their confidences."""
    images, labels = batch
    logits = network(normaliser(images)).float()
    loss = F.cross_entropy(logits, labels, reduction="sum").double()
    probabilities, classes = torch.softmax(logits, dim=1).topk(top_k, dim=1)
    hits = (classes == labels[:, None]).any(dim=1).sum()
    return loss, hits, labels, classes[:, 0], probabilities[:, 0]


def in_order(pool: ThreadPoolExecutor, work: Callable[[Any], Any], items: Iterable, window: int) -> Iterator:
    """work(item) for each item, run in the pool at most `window` ahead, yielded in the items' order."""
    pending: deque[Future] = deque()
    upcoming = iter(items)
    for item in itertools.islice(upcoming, window):
        pending.append(pool.submit(work, item))
    while pending:
        result = pending.popleft().result()
        for item in itertools.islice(upcoming, 1):
            pending.append(pool.submit(work, item))
        yield result


def _confusion(truth: torch.Tensor, predicted: torch.Tensor, classes: int) -> list[list[int]]:
    cells = torch.bincount(truth * classes + predicted, minlength=classes * classes)
    return cells.view(classes, classes).tolist()


def _most_confidently_wrong(scores: _Scores, split: Split, chosen: torch.Tensor | None, count: int) -> tuple:
    if count == 0:
        return ()
    wrong = torch.nonzero(scores.truth != scores.predicted).flatten()
    order = torch.argsort(scores.confidence[wrong], descending=True, stable=True)
    picked = wrong[order][:count].tolist()
    found = []
    for position in picked:
        index = int(chosen[position]) if chosen is not None else position
        pixels = split.images[index] if split.images is not None else split.dataset()[index][0]
        found.append(
            WrongImage(
                index,
                int(scores.truth[position]),
                int(scores.predicted[position]),
                float(scores.confidence[position]),
                pixels.numpy().copy(),
            )
        )
    return tuple(found)
