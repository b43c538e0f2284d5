"""What `cnn shapes` asks the core: one layer's arithmetic, or a whole chain's.

Requests and results are dataclasses; text the user typed ("28x32", "1:32") is parsed here so every
front end reads sizes the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cnncli.core.arch.builtins import ResolvedModel, resolve_model
from cnncli.core.arch.shapes import ChainReport, LayerReport, Shape, analyse, same_padding
from cnncli.core.arch.spec import Conv, Padding, Pair, Pool
from cnncli.core.errors import UsageError

# ---------------------------------------------------------------------------------------------
# Reading sizes as users type them
# ---------------------------------------------------------------------------------------------


def parse_dims(text: str, what: str, count: tuple[int, ...] = (1, 2, 3), minimum: int = 1) -> tuple[int, ...]:
    """'28' -> (28,), '28x32' -> (28, 32), '1x28x28' -> (1, 28, 28); each at least `minimum`."""
    parts = re.split(r"\s*[x×*,]\s*", text.strip().lower())
    if not all(re.fullmatch(r"[0-9]+", p) for p in parts) or len(parts) not in count:
        forms = {1: "N", 2: "HxW", 3: "CxHxW"}
        raise UsageError(
            f"{what} must be {' or '.join(forms[c] for c in count)} in whole numbers, not {text!r}",
            f"for example: {what} " + "x".join(["28", "28", "28"][: max(count)]),
        )
    dims = tuple(int(p) for p in parts)
    if min(dims) < minimum:
        raise UsageError(f"{what} must be at least {minimum}, not {text!r}")
    return dims


def parse_pair(text: str, what: str, minimum: int = 1) -> Pair:
    dims = parse_dims(text, what, (1, 2), minimum)
    return (dims[0], dims[0]) if len(dims) == 1 else (dims[0], dims[1])


def parse_padding(text: str) -> Padding:
    lowered = text.strip().lower()
    if lowered in ("same", "valid"):
        return lowered
    return parse_pair(text, "--padding", minimum=0)


def parse_input_shape(text: str, channels: int = 1) -> Shape:
    """W (square, `channels` deep), HxW, or CxHxW."""
    dims = parse_dims(text, "--input")
    if len(dims) == 1:
        return (channels, dims[0], dims[0])
    if len(dims) == 2:
        return (channels, dims[0], dims[1])
    return dims


def parse_channels(text: str) -> Pair:
    """'1:32', '1,32', '1->32' or '1/32': in and out channels."""
    parts = re.split(r"\s*(?:->|:|,|/)\s*", text.strip())
    if len(parts) != 2 or not all(re.fullmatch(r"[0-9]+", p) and int(p) > 0 for p in parts):
        raise UsageError(
            f"--channels must be IN:OUT, two whole numbers of at least 1, not {text!r}", "for example: --channels 1:32"
        )
    return int(parts[0]), int(parts[1])


# ---------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerRequest:
    input_size: Pair  # height, width
    kernel_size: Pair
    stride: Pair | None = None  # None: 1 for a conv, the kernel size for pooling
    padding: Padding = (0, 0)
    dilation: Pair = (1, 1)
    pool: str | None = None  # "max" or "avg": a pooling layer instead of a conv
    ceil_mode: bool = False
    channels: Pair | None = None  # in, out: also count the parameters of a conv
    bias: bool = True


@dataclass(frozen=True)
class LayerResult:
    request: LayerRequest
    layer: Conv | Pool
    report: LayerReport
    weights: int | None  # None when the channels are unknown (a conv without --channels)
    bias: int | None
    same_padding: Pair | None  # the symmetric padding that keeps the size at stride 1

    @property
    def output_size(self) -> Pair:
        shape = self.report.output_shape
        return shape[1], shape[2]


def single_layer(request: LayerRequest) -> LayerResult:
    """The output size of one conv or pooling layer, with the working along each axis."""
    in_channels, out_channels = request.channels or (1, 1)
    layer: Conv | Pool
    if request.pool:
        if request.channels and in_channels != out_channels:
            raise UsageError("pooling keeps the channel count: --channels IN:OUT needs IN = OUT for --pool")
        if isinstance(request.padding, str):
            raise UsageError(f"--padding {request.padding} is for convolutions; pooling takes a number")
        if request.pool == "avg" and request.dilation != (1, 1):
            raise UsageError("average pooling has no dilation in PyTorch", "drop --dilation, or use --pool max")
        layer = Pool(
            request.pool, request.kernel_size, request.stride, request.padding, request.dilation, request.ceil_mode
        )
    else:
        if request.ceil_mode:
            raise UsageError("--ceil-mode is for pooling layers", "add --pool max or --pool avg")
        layer = Conv(
            out_channels,
            request.kernel_size,
            request.stride or (1, 1),
            request.padding,
            request.dilation,
            bias=request.bias,
        )
    label = f"the {layer.kind}" if request.pool or request.channels else "the conv"
    chain = analyse((layer,), (in_channels, *request.input_size), label=label)
    report = chain.layers[0]
    known = request.channels is not None and not request.pool
    bias = out_channels if known and request.bias else (0 if known else None)
    weights = report.params - (bias or 0) if known else None
    same = tuple(same_padding(request.kernel_size[i], request.dilation[i]) for i in range(2))
    return LayerResult(
        request, layer, report, weights, bias, None if None in same or request.pool else (same[0], same[1])
    )  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# A chain of layers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainRequest:
    model: str  # a built-in architecture name or a spec string
    input_shape: Shape | None = None  # None: the architecture's own, or 1x28x28 for a spec
    num_classes: int = 10


@dataclass(frozen=True)
class ChainResult:
    model: ResolvedModel
    report: ChainReport


def chain(request: ChainRequest) -> ChainResult:
    model = resolve_model(request.model)
    input_shape = request.input_shape or model.input_shape
    return ChainResult(model, analyse(model.layers, input_shape, request.num_classes, model.spec))
