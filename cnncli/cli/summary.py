"""`cnn summary`: a network layer by layer with its costs, from a built-in name, a spec or a model file.

A model file is summarised from its header alone (metadata and tensor index): no weights are read and
torch is not imported, so it answers at once.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cnncli.cli.common import InputSizeOption, command
from cnncli.cli.env import Env
from cnncli.cli.render import number, shape_path, table
from cnncli.core.arch.cost import ACTIVATION_DTYPE, ModelSummary
from cnncli.core.arch.query import parse_input_shape
from cnncli.core.arch.shapes import format_shape
from cnncli.core.modelfile.summary import SummaryRequest, SummaryResult, summarise_model
from cnncli.core.units import byte_size, format_dims


@command
def summary(
    env: Env,
    model: Annotated[
        str,
        typer.Argument(
            help="A built-in architecture (tutorial, tiny, ...), a spec string, or a model: a .safetensors file, "
            "a run folder, a folder of runs, runs/latest or pretrained:NAME.",
            metavar="MODEL",
            show_default=False,
        ),
    ],
    input_size: InputSizeOption = None,
    classes: Annotated[
        int | None,
        typer.Option("--classes", min=1, metavar="N", help="What 'classes' in a spec stands for (default 10)."),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", "-b", min=1, metavar="N", help="Batch size for the activation memory."),
    ] = 1,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth", min=1, metavar="N", help="Show layers nested less than N deep; fold deeper ones into blocks."
        ),
    ] = None,
) -> None:
    """Every layer with its output shape, parameters, multiply-adds and memory; totals below.

    \b
    cnn summary tutorial
    cnn summary "conv(16, 3, padding=same) bn relu maxpool(2) fc(classes)" --input 3x32x32 --classes 10
    cnn summary runs/lean-mnist-1/best.safetensors --batch-size 128
    cnn summary pretrained:mnist
    """
    shape = parse_input_shape(input_size) if input_size else None
    result = summarise_model(SummaryRequest(model, shape, classes, batch_size, depth))
    if env.json:
        env.emit_json(summary_document(result))
    else:
        _render(env, result)


def summary_document(result: SummaryResult) -> dict[str, Any]:
    """The JSON of `cnn summary` (its schema is in the README)."""
    summary = result.summary
    report, totals = summary.report, summary.totals
    return {
        "mode": "summary",
        "source": result.source,
        "model": result.name,
        "spec": report.spec,
        "file": str(result.header.path) if result.header else None,
        "input": list(report.input_shape),
        "output": list(report.output_shape),
        "classes": report.num_classes,
        "batch_size": summary.batch_size,
        "dtype": ACTIVATION_DTYPE,
        "depth": summary.depth,
        "layers": [
            {
                "name": row.name,
                "type": row.module_type,
                "kind": row.kind,
                "spec": row.spec,
                "depth": row.depth,
                "block": row.is_block,
                "implicit": row.implicit,
                "collapsed": row.collapsed,
                "output": list(row.output_shape),
                "params": row.params,
                "params_share": round(row.params_share, 4),
                "macs": row.macs,
                "activation_bytes": row.activation_bytes,
                "receptive_field": list(row.receptive_field) if row.receptive_field else None,
            }
            for row in summary.rows
        ],
        "totals": {
            "trainable_params": totals.trainable_params,
            "frozen_params": totals.frozen_params,
            "param_bytes": totals.param_bytes,
            "macs": totals.macs,
            "flops": totals.flops,
            "input_bytes": totals.input_bytes,
            "activation_bytes": totals.activation_bytes,
        },
        "metadata": result.header.metadata.to_json() if result.header else None,
        "notes": list(result.notes),
    }


def _render(env: Env, result: SummaryResult) -> None:
    summary = result.summary
    report = summary.report
    if result.header:
        _render_file(env, result)
    else:
        env.say(f"{result.name}: {result.description}" if result.name else report.spec, style="bold")
        env.say(f"input: {format_shape(report.input_shape)}; classes: {report.num_classes}")
    env.render(_layer_table(env, summary))
    env.say(f"shapes: {shape_path(report)}")
    _render_totals(env, summary)
    for name, note in report.notes:
        if note.level == "warning":
            env.say(f"{name}: {note.text}", style="yellow")
    for note in result.notes:
        env.say(f"note: {note}", style="yellow")


def _layer_table(env: Env, summary: ModelSummary) -> Any:
    rows = []
    for row in summary.rows:
        label = (
            "  " * row.depth
            + row.name
            + (" (implied)" if row.implicit else "")
            + (" (folded)" if row.collapsed else "")
        )
        rf = format_dims(row.receptive_field) if row.receptive_field else "-"
        share = "" if not row.params else "<0.1%" if row.params_share < 0.1 else f"{row.params_share:.1f}%"
        macs = number(row.macs) if row.macs else ""
        rows.append(
            [label, row.module_type, format_shape(row.output_shape), number(row.params), share, macs,
             byte_size(row.activation_bytes, decimal=True), rf]
        )  # fmt: skip
    columns = ["layer", "type", "output", "params", "share", "MACs", "activations", "receptive field"]
    return table(env, columns, rows, right=(3, 4, 5, 6))


def _render_totals(env: Env, summary: ModelSummary) -> None:
    totals = summary.totals
    env.say(f"trainable parameters: {number(totals.trainable_params)}", style="bold")
    env.say(
        f"frozen (saved, not trained: batch-norm running statistics): {number(totals.frozen_params)}; "
        f"parameter size: {byte_size(totals.param_bytes, decimal=True)}"
    )
    env.say(
        f"per image: {number(totals.macs)} multiply-adds ({_scaled(totals.macs)}), "
        f"{number(totals.flops)} FLOPs (2 x MACs)"
    )
    batch = "one image" if summary.batch_size == 1 else f"a batch of {summary.batch_size}"
    env.say(
        f"activation memory for {batch} ({ACTIVATION_DTYPE}): "
        f"{byte_size(totals.activation_bytes, decimal=True)} of layer outputs, "
        f"{byte_size(totals.input_bytes, decimal=True)} of input"
    )


def _scaled(count: int) -> str:
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= factor:
            return f"{count / factor:.2f} {unit}"
    return str(count)


def _render_file(env: Env, result: SummaryResult) -> None:
    header = result.header
    assert header is not None
    meta = header.metadata
    arch = meta.architecture
    env.say(f"model file: {header.path} ({byte_size(header.file_bytes, decimal=True)})", style="bold")
    env.say(f"architecture: {arch.name + ': ' if arch.name else ''}{arch.spec}")
    shown = ", ".join(meta.classes[:10]) + (", ..." if meta.num_classes > 10 else "")
    env.say(f"input: {format_shape(meta.input_shape)}; classes: {meta.num_classes} ({shown})")
    pre = meta.preprocessing
    env.say(
        f"preprocessing: {pre.prepare}, {format_dims(pre.size)}, {pre.channels} channel"
        f"{'s' if pre.channels > 1 else ''}, mean {_floats(pre.mean)}, std {_floats(pre.std)}"
    )
    env.say(f"dataset: {meta.dataset.name} ({meta.dataset.checksum})")
    if meta.training:
        env.say(f"training: {_pairs(meta.training)}")
    if meta.metrics:
        env.say(f"metrics: {_pairs(meta.metrics)}")
    versions = meta.versions
    env.say(
        f"created: {meta.created.isoformat()} with cnn {versions.cnn}, torch {versions.torch}, "
        f"python {versions.python}; format {meta.format_version}"
    )


def _floats(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:g}" for v in values)


def _pairs(table_: dict[str, Any], prefix: str = "") -> str:
    parts = []
    for key, value in table_.items():
        if isinstance(value, dict):
            parts.append(_pairs(value, f"{prefix}{key}."))
        else:
            parts.append(f"{prefix}{key}={value:g}" if isinstance(value, float) else f"{prefix}{key}={value}")
    return ", ".join(p for p in parts if p)
