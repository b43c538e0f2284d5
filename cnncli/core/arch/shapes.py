"""Convolution arithmetic: what each layer of a spec does to the shape of its input.

Pure Python (no torch), so `cnn shapes` answers at once; tests check every formula here against real
torch.nn layers. Along each spatial axis a conv or pooling window of size K, dilated by D, slides with
stride S over the input of size W padded by P on both sides:

    W_out = floor((W + 2P - D(K-1) - 1) / S) + 1        (ceil instead of floor in ceil_mode)

The receptive field r and the jump j (the distance, in input pixels, between neighbouring outputs)
grow as r_out = r_in + D(K-1) j_in and j_out = j_in S.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import StrEnum

from cnncli.core.arch.spec import (
    CLASSES,
    Activation,
    BatchNorm,
    Block,
    Conv,
    Count,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    Linear,
    Pair,
    Pool,
    format_layer,
)
from cnncli.core.errors import ShapeError
from cnncli.core.units import format_dims

Shape = tuple[int, ...]  # (channels, height, width) for feature maps, (features,) after flatten
AXES = ("height", "width")


def format_shape(shape: Shape) -> str:
    return format_dims(shape)


@dataclass(frozen=True)
class AxisWorking:
    """The output-size formula along one axis, with the numbers filled in."""

    axis: str  # "height" or "width"
    size: int
    kernel_size: int
    stride: int
    padding: int  # per side; for asymmetric "same" padding, the smaller side
    padding_total: int  # both sides together
    dilation: int
    ceil_mode: bool
    output: int
    dropped: int  # input pixels (padding included) that no window covers
    fitting_padding: int | None  # the smallest padding >= `padding` that drops nothing, if any

    @property
    def effective_kernel(self) -> int:
        return self.dilation * (self.kernel_size - 1) + 1

    @property
    def formula(self) -> str:
        rounding = "ceil" if self.ceil_mode else "floor"
        pad = f"2*{self.padding}" if self.padding_total == 2 * self.padding else str(self.padding_total)
        return (
            f"{rounding}(({self.size} + {pad} - {self.dilation}*({self.kernel_size}-1) - 1)/{self.stride})"
            f" + 1 = {self.output}"
        )


class NoteLevel(StrEnum):
    WARNING = "warning"  # something is probably off
    INFO = "info"  # something worth knowing


@dataclass(frozen=True)
class Note:
    level: NoteLevel
    text: str


@dataclass(frozen=True)
class LayerReport:
    """One row of the shapes table: a layer and what it does to its input."""

    name: str  # conv1, pool2, block1.conv1 ...
    kind: str
    text: str  # the layer in spec syntax
    depth: int  # 0 at top level, 1 inside a block, ...
    input_shape: Shape
    output_shape: Shape
    params: int  # trainable parameters
    buffers: int  # non-trainable state (batch norm running statistics)
    macs: int  # multiply-accumulates per image
    receptive_field: Pair | None  # None once the spatial layout is gone (flatten, gap)
    jump: Pair | None
    axes: tuple[AxisWorking, AxisWorking] | None = None
    notes: tuple[Note, ...] = ()
    implicit: bool = False  # a flatten the spec implies before its first fc
    is_block: bool = False  # a block header: its params and macs are its children's sums
    layer: Layer | None = None


@dataclass(frozen=True)
class LayerEffect:
    """What one layer does to its input, as its handler works it out; `_analyse_layer` makes the report."""

    output_shape: Shape
    params: int = 0
    buffers: int = 0
    macs: int = 0
    axes: tuple[AxisWorking, AxisWorking] | None = None
    notes: tuple[Note, ...] = ()
    window: tuple[Pair, Pair] | None = None  # (receptive field, jump) after a conv or pool; None: unchanged
    spatial: bool = True  # False once flatten, gap or fc has removed the layout: no receptive field after it


@dataclass(frozen=True)
class ChainReport:
    spec: str
    input_shape: Shape
    num_classes: int
    layers: tuple[LayerReport, ...]

    @property
    def leaves(self) -> tuple[LayerReport, ...]:
        return tuple(r for r in self.layers if not r.is_block)

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].output_shape if self.layers else self.input_shape

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.leaves)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.leaves)

    @property
    def flatten_size(self) -> int | None:
        """Features entering the first fully connected layer: what its in_features must be."""
        for report in self.leaves:
            if report.kind == "fc":
                return report.input_shape[0]
        return None

    @property
    def notes(self) -> tuple[tuple[str, Note], ...]:
        return tuple((r.name, n) for r in self.layers for n in r.notes)


# ---------------------------------------------------------------------------------------------
# One axis of a sliding window
# ---------------------------------------------------------------------------------------------


def window_output(size: int, kernel: int, stride: int, pad_total: int, dilation: int, ceil_mode: bool) -> int:
    """Output size of a window sliding along one axis, exactly as torch computes it."""
    span = size + pad_total - dilation * (kernel - 1) - 1
    if span < 0:
        return span // stride + 1 if not ceil_mode else -((-span) // stride) + 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    # torch: the last window must start inside the input or the left padding
    if (out - 1) * stride >= size + pad_total // 2:
        out -= 1
    return out


def _fitting_padding(size: int, kernel: int, stride: int, padding: int, dilation: int, limit: int | None) -> int | None:
    effective = dilation * (kernel - 1) + 1
    for candidate in range(padding, padding + stride):
        if limit is not None and candidate > limit:
            return None
        if size + 2 * candidate - effective >= 0 and (size + 2 * candidate - effective) % stride == 0:
            return candidate
    return None


def axis_working(
    axis: str,
    size: int,
    kernel: int,
    stride: int,
    padding: int | str,
    dilation: int,
    ceil_mode: bool = False,
    pad_limit: int | None = None,
) -> AxisWorking:
    """The formula along one axis; padding may be "same" (stride 1 only) or "valid"."""
    if padding == "valid":
        padding = 0
    if padding == "same":
        pad_total = dilation * (kernel - 1)
        pad_side = pad_total // 2
    else:
        assert isinstance(padding, int)
        pad_total, pad_side = 2 * padding, padding
    output = window_output(size, kernel, stride, pad_total, dilation, ceil_mode)
    span = size + pad_total - dilation * (kernel - 1) - 1
    dropped = span % stride if span >= 0 and not ceil_mode else 0
    fitting = _fitting_padding(size, kernel, stride, pad_side, dilation, pad_limit) if dropped else None
    return AxisWorking(axis, size, kernel, stride, pad_side, pad_total, dilation, ceil_mode, output, dropped, fitting)


def same_padding(kernel: int, dilation: int = 1) -> int | None:
    """The symmetric padding that keeps the size at stride 1, or None when only asymmetric padding can."""
    total = dilation * (kernel - 1)
    return total // 2 if total % 2 == 0 else None


# ---------------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------------


@dataclass
class _State:
    """What flows from layer to layer while a chain is analysed."""

    shape: Shape
    receptive_field: Pair | None = (1, 1)
    jump: Pair | None = (1, 1)
    counters: dict[str, int] = field(default_factory=dict)
    label: str | None = None  # how errors name the layer when it has no name of its own (one layer)

    def next_name(self, kind: str) -> str:
        base = {"maxpool": "pool", "avgpool": "pool", "leakyrelu": "lrelu", "dropout": "drop"}.get(kind, kind)
        self.counters[base] = self.counters.get(base, 0) + 1
        return f"{base}{self.counters[base]}"


def _count(value: Count, num_classes: int) -> int:
    return num_classes if value == CLASSES else int(value)


def _layer_label(state: _State, name: str, layer: Layer) -> str:
    return state.label or f"{name} ({format_layer(layer)})"


def _need_feature_map(state: _State, name: str, layer: Layer) -> None:
    if len(state.shape) != 3:
        raise ShapeError(
            f"{_layer_label(state, name, layer)} needs a C x H x W feature map, but its input is "
            f"{format_shape(state.shape)} features",
            "convolution and pooling come before flatten, gap and fc",
        )


def _window_axes(
    name: str, layer: Conv | Pool, state: _State, padding: Pair | str, stride: Pair, pad_limit: Pair | None
) -> tuple[AxisWorking, AxisWorking]:
    _, height, width = state.shape
    ceil_mode = layer.ceil_mode if isinstance(layer, Pool) else False
    axes = []
    for i, axis in enumerate(AXES):
        pad = padding if isinstance(padding, str) else padding[i]
        working = axis_working(
            axis,
            (height, width)[i],
            layer.kernel_size[i],
            stride[i],
            pad,
            layer.dilation[i],
            ceil_mode,
            pad_limit[i] if pad_limit else None,
        )
        if working.output < 1:
            raise ShapeError(
                f"{_layer_label(state, name, layer)} leaves no pixels: its output {axis} would be {working.formula}",
                f"its window ({working.effective_kernel} px) is larger than its padded input "
                f"({working.size + working.padding_total} px): pad more, use a smaller kernel, "
                "or downsample less before it",
            )
        axes.append(working)
    return axes[0], axes[1]


def _window_notes(axes: tuple[AxisWorking, AxisWorking], layer: Conv | Pool) -> tuple[Note, ...]:
    notes = []
    height, width = axes
    same = (height.size, height.dropped, height.fitting_padding) == (width.size, width.dropped, width.fitting_padding)
    for working in (height,) if same else axes:
        if working.dropped:
            axis = "height and width" if same else working.axis
            where = (
                f"padding={working.fitting_padding} fits exactly"
                if working.fitting_padding is not None
                else (
                    "no symmetric padding fits at this stride"
                    + ("; ceil_mode=true keeps them" if isinstance(layer, Pool) else "")
                )
            )
            plural = "s" if working.dropped > 1 else ""
            notes.append(
                Note(
                    NoteLevel.WARNING,
                    f"the window does not fit the {axis} exactly: the floor drops the last "
                    f"{working.dropped} pixel{plural} of the padded input; {where}",
                )
            )
    return tuple(notes)


def _grow(state: _State, axes: tuple[AxisWorking, AxisWorking]) -> tuple[Pair, Pair]:
    assert state.receptive_field is not None and state.jump is not None
    rf = tuple(state.receptive_field[i] + (axes[i].effective_kernel - 1) * state.jump[i] for i in range(2))
    jump = tuple(state.jump[i] * axes[i].stride for i in range(2))
    return (rf[0], rf[1]), (jump[0], jump[1])


def _conv(name: str, layer: Conv, state: _State, num_classes: int) -> LayerEffect:
    _need_feature_map(state, name, layer)
    in_channels = state.shape[0]
    out_channels = _count(layer.out_channels, num_classes)
    if in_channels % layer.groups or out_channels % layer.groups:
        raise ShapeError(
            f"{_layer_label(state, name, layer)}: groups={layer.groups} must divide both in_channels ({in_channels}) "
            f"and out_channels ({out_channels})"
        )
    if layer.padding == "same" and layer.stride != (1, 1):
        raise ShapeError(
            f"{_layer_label(state, name, layer)}: padding=same works only at stride 1 (PyTorch rejects it)",
            "give the padding as a number: with stride 2 and kernel 3, padding=1 halves the size",
        )
    _check_padding_mode(name, layer, state)
    axes = _window_axes(name, layer, state, layer.padding, layer.stride, None)
    kernel = layer.kernel_size[0] * layer.kernel_size[1]
    weights = out_channels * (in_channels // layer.groups) * kernel
    return LayerEffect(
        output_shape=(out_channels, axes[0].output, axes[1].output),
        params=weights + (out_channels if layer.bias else 0),
        macs=axes[0].output * axes[1].output * weights,
        axes=axes,
        notes=_window_notes(axes, layer),
        window=_grow(state, axes),
    )


def _check_padding_mode(name: str, layer: Conv, state: _State) -> None:
    if layer.padding_mode in ("zeros", "replicate") or layer.padding == "valid":
        return
    sizes = state.shape[1:]
    for i, axis in enumerate(AXES):
        if layer.padding == "same":
            total = layer.dilation[i] * (layer.kernel_size[i] - 1)
            pad = total - total // 2
        else:
            pad = layer.padding[i]  # type: ignore[index]
        # reflect needs padding < size; circular wraps at most once around
        too_big = pad >= sizes[i] if layer.padding_mode == "reflect" else pad > sizes[i]
        if too_big:
            raise ShapeError(
                f"{_layer_label(state, name, layer)}: {layer.padding_mode} padding of {pad} does not fit an input "
                f"{axis} of {sizes[i]}",
                "use padding_mode=zeros or a smaller padding",
            )


def _pool(name: str, layer: Pool, state: _State) -> LayerEffect:
    _need_feature_map(state, name, layer)
    stride = layer.effective_stride
    # torch checks the undilated kernel, for max and average pooling alike
    limit = tuple(layer.kernel_size[i] // 2 for i in range(2))
    for i, axis in enumerate(AXES):
        if layer.padding[i] > limit[i]:
            raise ShapeError(
                f"{_layer_label(state, name, layer)}: padding {layer.padding[i]} along the {axis} is more than half "
                f"the kernel size ({limit[i]} at most); PyTorch rejects it",
                f"use padding <= {limit[i]}, or pad with a conv layer before pooling",
            )
    axes = _window_axes(name, layer, state, layer.padding, stride, (limit[0], limit[1]))
    return LayerEffect(
        output_shape=(state.shape[0], axes[0].output, axes[1].output),
        axes=axes,
        notes=_window_notes(axes, layer),
        window=_grow(state, axes),
    )


def _linear(name: str, layer: Linear, state: _State, num_classes: int) -> LayerEffect:
    if len(state.shape) != 1:  # the caller inserts a flatten first
        raise AssertionError("linear expects features")
    in_features = state.shape[0]
    out_features = _count(layer.out_features, num_classes)
    return LayerEffect(
        output_shape=(out_features,),
        params=in_features * out_features + (out_features if layer.bias else 0),
        macs=in_features * out_features,
        spatial=False,
    )


def _simple(layer: Layer, state: _State) -> LayerEffect:
    """Layers that keep the shape (or flatten it) and hold no weights, except batch norm's two."""
    if isinstance(layer, BatchNorm):
        channels = state.shape[0]
        return LayerEffect(state.shape, params=2 * channels, buffers=2 * channels + 1)
    if isinstance(layer, (Flatten, GlobalAvgPool)):
        if len(state.shape) == 1:
            return LayerEffect(state.shape)
        size = math.prod(state.shape) if isinstance(layer, Flatten) else state.shape[0]
        return LayerEffect((size,), spatial=False)
    assert isinstance(layer, (Activation, Dropout))
    return LayerEffect(state.shape)


def _analyse_layer(name: str, layer: Layer, state: _State, num_classes: int, depth: int) -> LayerReport:
    if isinstance(layer, Conv):
        effect = _conv(name, layer, state, num_classes)
    elif isinstance(layer, Pool):
        effect = _pool(name, layer, state)
    elif isinstance(layer, Linear):
        effect = _linear(name, layer, state, num_classes)
    else:
        if isinstance(layer, GlobalAvgPool):
            _need_feature_map(state, name, layer)
        effect = _simple(layer, state)
    receptive_field, jump = effect.window or (state.receptive_field, state.jump)
    if not effect.spatial:
        receptive_field = jump = None
    report = LayerReport(
        name=name,
        kind=layer.kind,
        text=format_layer(layer),
        depth=depth,
        input_shape=state.shape,
        output_shape=effect.output_shape,
        params=effect.params,
        buffers=effect.buffers,
        macs=effect.macs,
        receptive_field=receptive_field,
        jump=jump,
        axes=effect.axes,
        notes=effect.notes,
        implicit=False,
        layer=layer,
    )
    state.shape = report.output_shape
    state.receptive_field, state.jump = report.receptive_field, report.jump
    return report


def _analyse(layers: tuple[Layer, ...], state: _State, num_classes: int, depth: int, prefix: str) -> list[LayerReport]:
    reports: list[LayerReport] = []
    for layer in layers:
        if isinstance(layer, Block):
            for _ in range(layer.repeat):
                name = state.next_name("block")
                inner_state = _State(state.shape, state.receptive_field, state.jump)
                children = _analyse(layer.layers, inner_state, num_classes, depth + 1, f"{prefix}{name}.")
                header = LayerReport(
                    name=f"{prefix}{name}",
                    kind="block",
                    text=format_layer(Block(layer.layers)),
                    depth=depth,
                    input_shape=state.shape,
                    output_shape=inner_state.shape,
                    params=sum(c.params for c in children if not c.is_block),
                    buffers=sum(c.buffers for c in children if not c.is_block),
                    macs=sum(c.macs for c in children if not c.is_block),
                    receptive_field=inner_state.receptive_field,
                    jump=inner_state.jump,
                    is_block=True,
                    layer=Block(layer.layers),
                )
                reports.append(header)
                reports.extend(children)
                state.shape = inner_state.shape
                state.receptive_field, state.jump = inner_state.receptive_field, inner_state.jump
            continue
        if isinstance(layer, Linear) and len(state.shape) == 3:
            flat_name = state.next_name("flatten")
            flat = _analyse_layer(f"{prefix}{flat_name}", Flatten(), state, num_classes, depth)
            reports.append(_mark_implicit(flat))
        reports.append(_analyse_layer(f"{prefix}{state.next_name(layer.kind)}", layer, state, num_classes, depth))
    return reports


def _mark_implicit(report: LayerReport) -> LayerReport:
    return replace(
        report,
        implicit=True,
        notes=(Note(NoteLevel.INFO, "implied: fc needs features, so the feature map is flattened first"),),
    )


def analyse(
    layers: tuple[Layer, ...], input_shape: Shape, num_classes: int = 10, spec: str = "", label: str | None = None
) -> ChainReport:
    """Every layer's output shape, parameters, MACs, receptive field and jump, for one input shape.

    Raises ShapeError naming the first layer that cannot take its input.
    """
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ShapeError(f"the input must be C x H x W with every size at least 1, not {format_shape(input_shape)}")
    state = _State(tuple(input_shape), label=label)
    reports = _analyse(layers, state, num_classes, 0, "")
    return ChainReport(spec=spec, input_shape=tuple(input_shape), num_classes=num_classes, layers=tuple(reports))
