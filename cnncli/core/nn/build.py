"""From a spec to an nn.Module: one builder for every architecture, built-in or written by hand.

The network is a ConvNet (an nn.Sequential) whose children carry the names `analyse()` gives the
layers: conv1, bn1, pool1, flatten1, fc1, and block1.conv1 inside a block (a nested nn.Sequential).
So state_dict keys read as the shapes table does (`conv1.weight`), and a summary lines up with the
module row for row.

The analysis runs first: a spec that cannot take its input (28 px shrunk to nothing, a conv after
flatten) fails with a ShapeError naming the layer before a single weight is allocated, and every
module is then made from the shapes the analysis worked out, so in_channels and in_features never
have to be written in a spec.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import torch
from torch import nn

from cnncli.core.arch.shapes import ChainReport, LayerReport, Shape, analyse
from cnncli.core.arch.spec import Activation, Conv, Layer, Linear, Pool, format_spec


@dataclass(frozen=True)
class ModelConfig:
    """What a ConvNet was built from: enough to build it again."""

    spec: str
    input_shape: Shape  # (channels, height, width) of one image
    num_classes: int


class GlobalAvgPool(nn.Module):
    """Average each channel over its whole feature map: N x C x H x W becomes N x C."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class ConvNet(nn.Sequential):
    """A network built from a spec; a plain nn.Sequential with its config and analysis attached."""

    def __init__(self, modules: OrderedDict[str, nn.Module], config: ModelConfig, report: ChainReport) -> None:
        super().__init__(modules)
        self.config = config
        self.report = report  # the pure analysis it was built from: shapes, parameters, MACs per layer


def _conv(layer: Conv, report: LayerReport) -> nn.Module:
    padding = layer.padding if isinstance(layer.padding, str) else tuple(layer.padding)
    return nn.Conv2d(
        report.input_shape[0],
        report.output_shape[0],
        layer.kernel_size,
        stride=layer.stride,
        padding=padding,
        dilation=layer.dilation,
        groups=layer.groups,
        bias=layer.bias,
        padding_mode=layer.padding_mode,
    )


def _pool(layer: Pool) -> nn.Module:
    if layer.op == "max":
        return nn.MaxPool2d(
            layer.kernel_size, layer.effective_stride, layer.padding, layer.dilation, ceil_mode=layer.ceil_mode
        )
    return nn.AvgPool2d(layer.kernel_size, layer.effective_stride, layer.padding, ceil_mode=layer.ceil_mode)


def _activation(layer: Activation) -> nn.Module:
    if layer.op == "leakyrelu":
        return nn.LeakyReLU(layer.negative_slope)
    return {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[layer.op]()


def _module(report: LayerReport) -> nn.Module:
    """The module for one analysed layer; its input and output shapes are already known."""
    layer = report.layer
    if isinstance(layer, Conv):
        return _conv(layer, report)
    if isinstance(layer, Pool):
        return _pool(layer)
    if isinstance(layer, Linear):
        return nn.Linear(report.input_shape[0], report.output_shape[0], bias=layer.bias)
    if isinstance(layer, Activation):
        return _activation(layer)
    if report.kind == "bn":
        # 2-D over the channels of a feature map; 1-D over the features once flattened
        channels = report.input_shape[0]
        return nn.BatchNorm2d(channels) if len(report.input_shape) == 3 else nn.BatchNorm1d(channels)
    if report.kind == "dropout":
        return nn.Dropout(layer.p)  # type: ignore[union-attr]
    if report.kind == "flatten":
        return nn.Flatten()
    if report.kind == "gap":
        return GlobalAvgPool()
    if report.kind == "block":
        return nn.Sequential()
    raise AssertionError(f"no module for layer kind {report.kind!r}")


def modules_from_report(report: ChainReport) -> OrderedDict[str, nn.Module]:
    """The top-level modules, with blocks filled in: the reports come parent first, names dotted."""
    top: OrderedDict[str, nn.Module] = OrderedDict()
    blocks: dict[str, nn.Module] = {}
    for layer in report.layers:
        module = _module(layer)
        parent, _, name = layer.name.rpartition(".")
        if parent:
            blocks[parent].add_module(name, module)
        else:
            top[name] = module
        if layer.is_block:
            blocks[layer.name] = module
    return top


def build_model(layers: tuple[Layer, ...], input_shape: Shape, num_classes: int, spec: str = "") -> ConvNet:
    """The network for `layers` on inputs of `input_shape` (C, H, W), with fresh torch-default weights.

    Raises ShapeError, naming the layer, when the layers cannot take that input.
    """
    spec = spec or format_spec(layers)
    return build_from_report(analyse(layers, tuple(input_shape), num_classes, spec))


def build_from_report(report: ChainReport) -> ConvNet:
    """The network of an analysis already made (a model file's metadata holds one), with fresh weights."""
    config = ModelConfig(report.spec, tuple(report.input_shape), report.num_classes)
    return ConvNet(modules_from_report(report), config, report)
