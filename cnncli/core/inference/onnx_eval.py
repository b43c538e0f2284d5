"""`cnn eval` on an exported model: the split as numpy arrays, ONNX Runtime, numpy scoring. No torch.

The same EvalResult as the torch path (results.py), from the same parsed split (data/arrays.py) and the
same metrics (metrics.py). Built-in datasets only: image folders are decoded through torch.
"""

from __future__ import annotations

import time

import numpy as np

from cnncli.core.data.arrays import load_split_arrays
from cnncli.core.errors import UsageError
from cnncli.core.inference.metrics import classification_report
from cnncli.core.inference.pipeline import softmax
from cnncli.core.inference.results import CPU_BATCH, EvalRequest, EvalResult, WrongImage, check_dataset_fits
from cnncli.core.modelfile.onnxfile import OnnxModel
from cnncli.core.reporting import NULL_REPORTER, Reporter


def evaluate_onnx(request: EvalRequest, model: OnnxModel, progress: Reporter = NULL_REPORTER) -> EvalResult:
    request.validate()
    if request.split == "val":
        raise UsageError(
            "--split val is drawn with torch; the ONNX path evaluates test and train",
            "evaluate the .safetensors model for the validation split",
        )
    info, images, labels = load_split_arrays(
        request.dataset or model.metadata.dataset.name,
        request.split,
        request.data_dir,
        download=not request.offline,
        offline=request.offline,
        progress=progress,
    )
    check_dataset_fits(model.path, model.metadata, info)
    if len(images) == 0:
        raise UsageError(f"the {request.split} split of {info.name} holds no images")
    top_k = min(request.top_k, len(model.classes))
    batch_size = request.batch_size or CPU_BATCH
    task = progress.start("evaluating", total=len(images), unit="img")
    started = time.perf_counter()
    parts = []
    for start in range(0, len(images), batch_size):
        parts.append(model.logits(images[start : start + batch_size]))
        progress.update(task, advance=len(parts[-1]))
    probabilities = softmax(np.concatenate(parts))
    rows = np.arange(len(labels))
    loss = float(-np.log(np.maximum(probabilities[rows, labels], 1e-300)).mean())
    ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :top_k]
    predicted = ranked[:, 0]
    hits = int((ranked == labels[:, None]).any(axis=1).sum())
    seconds = time.perf_counter() - started
    classes = len(model.classes)
    matrix = np.bincount(labels * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    report = classification_report(matrix.tolist(), model.classes)
    progress.finish(task, f"{len(images):,} images, accuracy {100 * report.accuracy:.2f}%")
    confidence = probabilities[rows, predicted]
    return EvalResult(
        model_path=model.path,
        model=model,
        dataset=info,
        split=request.split,
        count=len(images),
        loss=loss,
        accuracy=report.accuracy,
        top_k=top_k,
        top_k_accuracy=hits / len(images),
        report=report,
        wrong=_most_confidently_wrong(labels, predicted, confidence, images, request.keep_wrong),
        predicted=predicted,
        seconds=seconds,
    )


def _most_confidently_wrong(labels, predicted, confidence, images, count: int) -> tuple[WrongImage, ...]:
    if count == 0:
        return ()
    wrong = np.flatnonzero(labels != predicted)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:count]
    return tuple(
        WrongImage(int(i), int(labels[i]), int(predicted[i]), float(confidence[i]), images[i].copy()) for i in order
    )
