"""`cnn export`: a trained model as an ONNX file that carries its classes, input, normalisation and recipe."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cnncli.cli.common import ModelArgument, command
from cnncli.cli.env import Env
from cnncli.cli.progress import reporter_for
from cnncli.core.units import byte_size

if TYPE_CHECKING:
    from cnncli.core.export.onnx import ExportReport

Opt = typer.Option


@command
def export(
    env: Env,
    model: ModelArgument = None,
    output: Annotated[
        Path | None,
        Opt("--output", "-o", metavar="FILE.onnx", show_default=False, help="Default: NAME.onnx beside the model."),
    ] = None,
    data_dir: Annotated[
        str | None,
        Opt("--data-dir", metavar="DIR", show_default=False, help="Where datasets live, for the parity check."),
    ] = None,
) -> None:
    """Export a model to ONNX, checked against torch on its test split before it is written.

    The graph takes uint8 images (N x C x H x W, any N), normalises them itself and returns logits.
    `cnn predict` then uses the export beside a model when it is up to date: no torch to import.

    \b
    cnn export                                 # the latest run's best model -> runs/NAME/best.onnx
    cnn export runs/lean-mnist-1 -o mnist.onnx
    """
    from cnncli.core.export.onnx import export_model

    with reporter_for(env) as progress:
        report = export_model(model, output, data_dir, progress=progress)
    if env.json:
        env.emit_json(export_document(report))
    else:
        parity = report.parity
        env.say(f"wrote {report.path} ({byte_size(report.size, decimal=True)}) in {report.seconds:.1f} s", "bold")
        env.say(
            f"parity on {parity.inputs}: argmax agrees on {parity.argmax_agree:,}/{parity.count:,}, "
            f"max |logit difference| {parity.max_abs_logit_diff:.1e} (tolerance {parity.tolerance:.0e})"
        )
        env.say(f"source: {report.source} (sha256 {report.sha256[:16]}...)")


def export_document(report: ExportReport) -> dict[str, Any]:
    """The JSON of `cnn export` (its schema is in the README)."""
    parity = report.parity
    return {
        "source": str(report.source),
        "onnx": str(report.path),
        "sha256": report.sha256,
        "bytes": report.size,
        "exporter": report.exporter,
        "parity": {
            "inputs": parity.inputs,
            "count": parity.count,
            "argmax_agree": parity.argmax_agree,
            "max_abs_logit_diff": parity.max_abs_logit_diff,
            "tolerance": parity.tolerance,
            "passed": parity.passed,
        },
        "seconds": round(report.seconds, 3),
    }
