"""`cnn shapes`: convolution arithmetic for one layer, or for every layer of an architecture."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from cnncli.cli.common import InputSizeOption, command
from cnncli.cli.env import Env
from cnncli.cli.render import notes_text, number, shape_path, table
from cnncli.core.arch.query import (
    ChainRequest,
    LayerRequest,
    LayerResult,
    chain,
    parse_channels,
    parse_input_shape,
    parse_padding,
    parse_pair,
    single_layer,
)
from cnncli.core.arch.shapes import AxisWorking, ChainReport, format_shape
from cnncli.core.arch.spec import format_layer
from cnncli.core.errors import UsageError
from cnncli.core.units import format_dims, format_pair


class PoolKind(StrEnum):
    max = "max"
    avg = "avg"


@command
def shapes(
    env: Env,
    model: Annotated[
        str | None,
        typer.Argument(
            help="A built-in architecture (tutorial, tiny, ...) or a spec string: every layer's shape.",
            metavar="MODEL",
            show_default=False,
        ),
    ] = None,
    model_option: Annotated[
        str | None,
        typer.Option("--model", "-m", help="The same as the MODEL argument.", metavar="MODEL", show_default=False),
    ] = None,
    input_size: InputSizeOption = None,
    kernel: Annotated[
        str | None,
        typer.Option("--kernel", "-k", help="One layer: kernel size K or HxW.", metavar="K", show_default=False),
    ] = None,
    stride: Annotated[
        str | None,
        typer.Option(
            "--stride", "-s", help="Stride (default 1; for pooling, the kernel size).", metavar="S", show_default=False
        ),
    ] = None,
    padding: Annotated[
        str, typer.Option("--padding", "-p", help="Padding per side: N, HxW, 'same' or 'valid'.", metavar="P")
    ] = "0",
    dilation: Annotated[str, typer.Option("--dilation", "-d", help="Dilation: N or HxW.", metavar="D")] = "1",
    pool: Annotated[
        PoolKind | None,
        typer.Option(
            "--pool", help="A pooling layer instead of a conv (kernel 2 unless --kernel).", show_default=False
        ),
    ] = None,
    ceil_mode: Annotated[bool, typer.Option("--ceil-mode", help="Pooling: ceil instead of floor.")] = False,
    channels: Annotated[
        str | None,
        typer.Option(
            "--channels",
            "-c",
            help="One conv: IN:OUT channels, to count its parameters.",
            metavar="IN:OUT",
            show_default=False,
        ),
    ] = None,
    bias: Annotated[bool, typer.Option("--bias/--no-bias", help="One conv: whether it has a bias.")] = True,
    classes: Annotated[
        int, typer.Option("--classes", min=1, metavar="N", help="What 'classes' in a spec stands for.")
    ] = 10,
) -> None:
    """Output size of a conv or pooling layer, with the working; or every layer of an architecture.

    \b
    cnn shapes --input 28 --kernel 5 --padding 2
    cnn shapes --input 28x32 --kernel 3x5 --stride 2 --channels 1:16
    cnn shapes --input 7 --pool max --kernel 2 --ceil-mode
    cnn shapes tutorial
    cnn shapes "conv(16, 3, padding=same) bn relu maxpool(2) fc(classes)" --input 3x32x32
    """
    if model and model_option:
        raise UsageError("give the architecture once: as MODEL or as --model")
    model = model or model_option
    layer_options = kernel is not None or pool is not None
    if model and layer_options:
        raise UsageError(
            "--kernel and --pool describe one layer; an architecture has its own",
            "drop MODEL to ask about one layer, or --kernel/--pool to see the architecture",
        )
    if model:
        _chain(env, model, input_size, classes)
    elif layer_options:
        _layer(env, input_size, kernel or "2", stride, padding, dilation, pool, ceil_mode, channels, bias)
    else:
        raise UsageError("nothing to compute", "give --input and --kernel for one layer, or an architecture name")


# ---------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------


def _layer(
    env: Env,
    input_size: str | None,
    kernel: str,
    stride: str | None,
    padding: str,
    dilation: str,
    pool: PoolKind | None,
    ceil_mode: bool,
    channels: str | None,
    bias: bool,
) -> None:
    if input_size is None:
        raise UsageError("one layer needs --input", "for example: --input 28 (or 28x32)")
    pair = parse_channels(channels) if channels else None
    shape = parse_input_shape(input_size, pair[0] if pair else 1)
    if pair and shape[0] != pair[0]:
        raise UsageError(f"--input has {shape[0]} channels but --channels says {pair[0]}")
    result = single_layer(
        LayerRequest(
            input_size=(shape[1], shape[2]),
            kernel_size=parse_pair(kernel, "--kernel"),
            stride=parse_pair(stride, "--stride") if stride else None,
            padding=parse_padding(padding),
            dilation=parse_pair(dilation, "--dilation"),
            pool=pool.value if pool else None,
            ceil_mode=ceil_mode,
            channels=pair,
            bias=bias,
        )
    )
    if env.json:
        env.emit_json(layer_document(result))
    else:
        _render_layer(env, result)


def _axis_document(working: AxisWorking) -> dict[str, Any]:
    return {
        "formula": working.formula,
        "output": working.output,
        "dropped": working.dropped,
        "fitting_padding": working.fitting_padding,
    }


def layer_document(result: LayerResult) -> dict[str, Any]:
    """The JSON of one layer (its schema is in the README)."""
    report, layer = result.report, result.layer
    height, width = report.axes  # type: ignore[misc]
    known_channels = result.request.channels is not None or result.request.pool is not None
    return {
        "mode": "layer",
        "layer": {
            "type": report.kind,
            "spec": format_layer(layer) if known_channels else None,
            "kernel_size": list(layer.kernel_size),
            "stride": [height.stride, width.stride],
            "padding": [height.padding, width.padding] if not isinstance(layer.padding, str) else layer.padding,
            "padding_total": [height.padding_total, width.padding_total],
            "dilation": list(layer.dilation),
            "ceil_mode": result.request.ceil_mode,
        },
        "input": {
            "channels": report.input_shape[0] if known_channels else None,
            "height": report.input_shape[1],
            "width": report.input_shape[2],
        },
        "output": {
            "channels": report.output_shape[0] if known_channels else None,
            "height": report.output_shape[1],
            "width": report.output_shape[2],
        },
        "working": {"height": _axis_document(height), "width": _axis_document(width)},
        "parameters": None
        if result.weights is None
        else {"weights": result.weights, "bias": result.bias, "total": result.weights + (result.bias or 0)},
        "receptive_field": list(report.receptive_field or ()),
        "jump": list(report.jump or ()),
        "same_padding": list(result.same_padding) if result.same_padding else None,
        "notes": [{"level": n.level, "text": n.text} for n in report.notes],
    }


def _describe(result: LayerResult) -> str:
    """The layer in words when its channels are unknown, else in spec syntax."""
    if result.request.channels or result.request.pool:
        return format_layer(result.layer)
    height, width = result.report.axes  # type: ignore[misc]

    padding = result.layer.padding if isinstance(result.layer.padding, str) else format_pair(result.layer.padding)
    return (
        f"conv kernel {format_pair((height.kernel_size, width.kernel_size))},"
        f" stride {format_pair((height.stride, width.stride))},"
        f" padding {padding}, dilation {format_pair((height.dilation, width.dilation))}"
    )


def _render_layer(env: Env, result: LayerResult) -> None:
    report = result.report
    height, width = report.axes  # type: ignore[misc]
    square = (height.size, height.kernel_size, height.stride, height.padding_total, height.dilation) == (
        width.size,
        width.kernel_size,
        width.stride,
        width.padding_total,
        width.dilation,
    )
    env.say(f"{_describe(result)} on {format_dims((height.size, width.size))}")
    if square:
        env.say(f"  W_out = {height.formula}")
    else:
        env.say(f"  H_out = {height.formula}")
        env.say(f"  W_out = {width.formula}")
    out_h, out_w = result.output_size
    size = str(out_h) if square else f"{out_h}x{out_w}"
    env.say(f"output: {size}", style="bold")
    if result.request.channels:
        env.say(f"shape: {format_shape(report.input_shape)} -> {format_shape(report.output_shape)}")
    if result.weights is not None:
        env.say(
            f"parameters: {number(result.weights)} weights + {number(result.bias or 0)} bias = "
            f"{number(result.weights + (result.bias or 0))}"
        )
    rf, jump = report.receptive_field, report.jump
    env.say(f"receptive field: {format_dims(rf)} input pixels; jump: {format_dims(jump)}")  # type: ignore[arg-type]
    if result.same_padding and (height.stride, width.stride) == (1, 1):
        keep = result.same_padding
        env.say(f"padding={format_pair(keep)} keeps the size at stride 1 ('same')")
    elif result.same_padding is None and not result.request.pool:
        env.say("an even kernel needs uneven padding to keep the size: padding=same does that at stride 1")
    for line in notes_text(report.notes):
        env.say(line, style="yellow")


# ---------------------------------------------------------------------------------------------
# A chain of layers
# ---------------------------------------------------------------------------------------------


def _chain(env: Env, model: str, input_size: str | None, classes: int) -> None:
    shape = parse_input_shape(input_size) if input_size else None
    result = chain(ChainRequest(model, shape, classes))
    if env.json:
        env.emit_json(chain_document(result.report, result.model.name))
    else:
        _render_chain(env, result.report, result.model.name, result.model.description)


def chain_document(report: ChainReport, name: str | None) -> dict[str, Any]:
    """The JSON of a chain of layers (its schema is in the README)."""
    return {
        "mode": "chain",
        "model": name,
        "spec": report.spec,
        "input": list(report.input_shape),
        "classes": report.num_classes,
        "layers": [
            {
                "name": r.name,
                "type": r.kind,
                "spec": r.text,
                "depth": r.depth,
                "block": r.is_block,
                "implicit": r.implicit,
                "input": list(r.input_shape),
                "output": list(r.output_shape),
                "params": r.params,
                "macs": r.macs,
                "receptive_field": list(r.receptive_field) if r.receptive_field else None,
                "jump": list(r.jump) if r.jump else None,
                "notes": [{"level": n.level, "text": n.text} for n in r.notes],
            }
            for r in report.layers
        ],
        "output": list(report.output_shape),
        "total_params": report.total_params,
        "total_macs": report.total_macs,
        "flatten_size": report.flatten_size,
    }


def _render_chain(env: Env, report: ChainReport, name: str | None, description: str) -> None:
    title = f"{name}: {description}" if name else report.spec
    rows = []
    for r in report.layers:
        rf = format_dims(r.receptive_field) if r.receptive_field else "-"
        jump = format_dims(r.jump) if r.jump else "-"
        label = "  " * r.depth + r.name + (" (implied)" if r.implicit else "")
        rows.append([label, r.text, format_shape(r.output_shape), number(r.params), rf, jump])
    env.say(title, style="bold")
    env.say(f"input: {format_shape(report.input_shape)}")
    env.render(table(env, ["layer", "spec", "output", "params", "receptive field", "jump"], rows, right=(3,)))
    env.say(f"shapes: {shape_path(report)}")
    env.say(f"parameters: {number(report.total_params)}", style="bold")
    if report.flatten_size is not None:
        env.say(f"flatten size (in_features of the first fc): {number(report.flatten_size)}")
    for name_, note in report.notes:
        if note.level == "warning":
            env.say(f"{name_}: {note.text}", style="yellow")
