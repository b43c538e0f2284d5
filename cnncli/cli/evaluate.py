"""`cnn eval`: how a trained model does on a labelled split, class by class, and where it goes wrong."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnncli.cli.common import ModelArgument, command
from cnncli.cli.env import Env
from cnncli.cli.progress import reporter_for
from cnncli.cli.render import number, percent, table

if TYPE_CHECKING:
    from cnncli.core.inference.metrics import ClassificationReport
    from cnncli.core.inference.mistakes import Gallery
    from cnncli.core.inference.results import EvalRequest, EvalResult

Opt = typer.Option


@command
def evaluate(
    env: Env,
    model: ModelArgument = None,
    dataset: Annotated[
        str | None,
        Opt("--dataset", "-d", metavar="NAME", show_default=False, help="Default: the one it was trained on."),
    ] = None,
    split: Annotated[
        str, Opt("--split", metavar="test|train|val", help="val: the holdout of its cnn train --val-split.")
    ] = "test",
    batch_size: Annotated[
        int | None,
        Opt("--batch-size", "-b", min=1, metavar="N", show_default=False, help="Default: 128 on a CPU, else 1000."),
    ] = None,
    device: Annotated[str, Opt("--device", metavar="auto|cpu|cuda|cuda:N|mps", help="Where to run it.")] = "auto",
    data_dir: Annotated[
        str | None,
        Opt("--data-dir", metavar="DIR", show_default=False, help="Where datasets live (default: $CNN_DATA_DIR)."),
    ] = None,
    offline: Annotated[bool, Opt("--offline", help="Never download a missing dataset.")] = False,
    top_k: Annotated[int, Opt("--top-k", min=1, metavar="K", help="Also count the true class in the top K.")] = 5,
    errors: Annotated[
        Path | None,
        Opt("--errors", metavar="DIR", show_default=False, help="Write the most confidently wrong images here."),
    ] = None,
    errors_count: Annotated[
        int, Opt("--errors-count", min=1, metavar="K", help="How many wrong images --errors writes.")
    ] = 25,
    engine: Annotated[
        str,
        Opt("--engine", metavar="auto|torch|onnx", help="auto: ONNX Runtime for an .onnx file, else torch."),
    ] = "auto",
    plot: Annotated[
        Path | None,
        Opt("--plot", metavar="FILE.png", show_default=False, help="Draw the confusion matrix (needs matplotlib)."),
    ] = None,
) -> None:
    """Accuracy, loss, top-k, per-class precision/recall/F1, the confusion matrix and the worst mistakes.

    \b
    cnn eval                                  # the latest run's best model, on its test split
    cnn eval runs/lean-mnist-1 --split val
    cnn eval model.safetensors --dataset mnist --errors wrong/ --plot confusion.png
    cnn eval pretrained:fashion-mnist
    """
    from cnncli.core.inference.results import EvalRequest

    if plot is not None:
        from cnncli.core.inference.plot import require_matplotlib

        require_matplotlib()
    if errors is not None:
        from cnncli.core.inference.mistakes import prepare_gallery_folder

        prepare_gallery_folder(errors)
    request = EvalRequest(
        model=model,
        dataset=dataset,
        split=split,
        batch_size=batch_size,
        device=device,
        data_dir=data_dir,
        offline=offline,
        top_k=top_k,
        keep_wrong=errors_count if errors is not None else 0,
    ).validate()
    with reporter_for(env) as progress:
        result = _evaluate(env, request, engine, progress)
    gallery = _write_gallery(errors, result) if errors is not None else None
    plotted = _plot(plot, result) if plot is not None else None
    if env.json:
        env.emit_json(eval_document(result, gallery, plotted))
    elif env.show:
        _render(env, result, gallery, plotted)


def _evaluate(env: Env, request: EvalRequest, engine: str, progress: Any) -> EvalResult:
    """ONNX Runtime for an .onnx model (or --engine onnx: the export beside the model), torch otherwise.
    Unlike predict, eval stays on torch by default: the pass over a split dwarfs torch's start-up."""
    from cnncli.core.modelfile.onnxfile import is_onnx
    from cnncli.core.modelfile.reference import resolve_model_file

    if engine == "onnx" or (engine == "auto" and is_onnx(resolve_model_file(request.model, request.runs_dir))):
        from cnncli.core.inference.engine import choose_engine
        from cnncli.core.inference.onnx_eval import evaluate_onnx

        choice = choose_engine(request.model, request.device, engine, request.runs_dir)
        if choice.note and env.verbose:
            env.say(choice.note)
        assert choice.onnx_model is not None
        return evaluate_onnx(request, choice.onnx_model, progress)
    if engine not in ("auto", "torch"):
        from cnncli.core.errors import UsageError

        raise UsageError(f"unknown engine '{engine}'", "the engines are auto, torch and onnx")
    from cnncli.core.inference.evaluation import evaluate_model

    return evaluate_model(request, progress)


def _write_gallery(folder: Path, result: EvalResult) -> Gallery:
    from cnncli.core.inference.mistakes import write_gallery

    return write_gallery(folder, result.wrong, result.model.classes)


def _plot(path: Path, result: EvalResult) -> Path:
    from cnncli.core.inference.plot import plot_confusion

    title = f"{result.model_path.parent.name}/{result.model_path.name} on {result.dataset.name} {result.split}"
    return plot_confusion(path, result.report, title)


def _round(value: float) -> float:
    return round(value, 6)


def eval_document(result: EvalResult, gallery: Gallery | None, plotted: Path | None) -> dict[str, Any]:
    """The JSON of `cnn eval` (its schema is in the README)."""
    report = result.report
    meta = result.model.metadata
    return {
        "model": str(result.model_path),
        "dataset": result.dataset.name,
        "split": result.split,
        "count": result.count,
        "accuracy": _round(result.accuracy),
        "loss": _round(result.loss),
        "top_k": result.top_k,
        "top_k_accuracy": _round(result.top_k_accuracy),
        "classes": list(report.classes),
        "per_class": [
            {
                "class": s.name,
                "precision": _round(s.precision),
                "recall": _round(s.recall),
                "f1": _round(s.f1),
                "support": s.support,
            }
            for s in report.per_class
        ],
        "macro": _average(report.macro),
        "weighted": _average(report.weighted),
        "confusion_matrix": [list(row) for row in report.matrix],
        "most_confused": [
            {"true": p.true, "predicted": p.predicted, "count": p.count, "share": _round(p.share)}
            for p in report.confused
        ],
        "errors": _gallery_document(result, gallery),
        "plot": str(plotted) if plotted else None,
        "preprocessing": {"mean": list(meta.preprocessing.mean), "std": list(meta.preprocessing.std)},
        "device": str(result.model.device),
        "seconds": round(result.seconds, 4),
        "images_per_second": round(result.images_per_second, 1),
    }


def _average(average: Any) -> dict[str, float]:
    return {"precision": _round(average.precision), "recall": _round(average.recall), "f1": _round(average.f1)}


def _gallery_document(result: EvalResult, gallery: Gallery | None) -> dict[str, Any] | None:
    if gallery is None:
        return None
    classes = result.model.classes
    return {
        "dir": str(gallery.folder),
        "contact_sheet": str(gallery.contact_sheet) if gallery.contact_sheet else None,
        "images": [
            {
                "index": item.index,
                "true": classes[item.true],
                "predicted": classes[item.predicted],
                "confidence": _round(item.confidence),
                "file": str(path),
            }
            for item, path in zip(result.wrong, gallery.files, strict=True)
        ],
    }


# -- for people -------------------------------------------------------------------------------------


def _render(env: Env, result: EvalResult, gallery: Gallery | None, plotted: Path | None) -> None:
    report = result.report
    env.say(f"{result.model_path} on {result.dataset.name} ({result.split}): {number(result.count)} images", "bold")
    rows = [
        ["accuracy", percent(result.accuracy)],
        ["loss", f"{result.loss:.4f}"],
        [f"top-{result.top_k} accuracy", percent(result.top_k_accuracy)],
        ["speed", f"{result.images_per_second:,.0f} images/s on {result.model.device}"],
    ]
    env.render(table(env, ["", ""], rows))
    env.render(_class_table(env, report))
    env.render(_confusion_table(env, report))
    if report.confused:
        env.say("most confused (true -> predicted):")
        for pair in report.confused:
            env.say(f"  {pair.true} -> {pair.predicted}: {pair.count} ({percent(pair.share)} of {pair.true})")
    if gallery is not None:
        if gallery.contact_sheet is None:
            env.say(f"errors: none to write to {gallery.folder}: every image was right")
        else:
            env.say(f"errors: {len(gallery.files)} images and {gallery.contact_sheet}")
    if plotted is not None:
        env.say(f"plot: {plotted}")


def _class_table(env: Env, report: ClassificationReport) -> Any:
    rows = [
        [score.name, f"{score.precision:.4f}", f"{score.recall:.4f}", f"{score.f1:.4f}", number(score.support)]
        for score in report.per_class
    ]
    total = number(report.count)
    for label, average in (("macro avg", report.macro), ("weighted avg", report.weighted)):
        rows.append([label, f"{average.precision:.4f}", f"{average.recall:.4f}", f"{average.f1:.4f}", total])
    return table(env, ["class", "precision", "recall", "F1", "support"], rows, right=(1, 2, 3, 4))


def _confusion_table(env: Env, report: ClassificationReport) -> Any:
    """Counts with true classes as rows and predictions as columns; on a colour terminal each cell is
    shaded by its share of the row: green on the diagonal, red off it."""
    from rich.text import Text

    columns = ["true \\ predicted", *report.classes]
    matrix = table(env, columns, [], title="confusion matrix", right=range(1, len(columns)))
    shares = report.row_shares()
    for true, row in enumerate(report.matrix):
        cells = [Text(report.classes[true], style="bold" if env.color else "")]
        for predicted, count in enumerate(row):
            style = _shade(shares[true][predicted], true == predicted) if env.color and count else ""
            cells.append(Text(number(count), style=style))
        matrix.add_row(*cells)
    return matrix


def _shade(share: float, diagonal: bool) -> str:
    """A background from white towards green (right) or red (wrong) by the share of the row; mistakes
    are a small share, so their scale is stretched (square root) to stay visible."""
    strength = share if diagonal else min(1.0, share**0.5)
    target = (0, 135, 60) if diagonal else (200, 30, 30)
    red, green, blue = (round(255 + (t - 255) * strength) for t in target)
    ink = "white" if strength > 0.5 else "black"
    return f"{ink} on rgb({red},{green},{blue})"
