"""The pure-Python arithmetic of `cnn shapes`, checked against real torch.nn layers.

For random layers and inputs: whenever torch computes an output, ours has the same shape and the
same parameter count; whenever torch refuses, we raise ShapeError (and the other way round).
"""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnncli.core.arch.shapes import analyse, window_output
from cnncli.core.arch.spec import Conv, Pool
from cnncli.core.errors import ShapeError

torch.set_num_threads(1)
small = st.integers(1, 6)
sizes = st.tuples(small, small)
inputs = st.tuples(st.integers(1, 3), st.integers(1, 24), st.integers(1, 24))
settings.register_profile("torch", deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _torch_shape(module: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tuple(module(torch.zeros(1, *shape)).shape[1:])
    except (RuntimeError, ValueError, NotImplementedError, IndexError):
        return None


def _ours(layer, shape):
    try:
        report = analyse((layer,), shape)
    except ShapeError:
        return None, None
    return report.output_shape, report.total_params


@settings(settings.get_profile("torch"))
@given(
    shape=inputs,
    out_channels=st.integers(1, 6),
    kernel=sizes,
    stride=sizes,
    padding=st.one_of(st.tuples(st.integers(0, 4), st.integers(0, 4)), st.sampled_from(["same", "valid"])),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    groups=st.sampled_from([1, 2, 3]),
    bias=st.booleans(),
    mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
)
def test_conv_matches_torch(shape, out_channels, kernel, stride, padding, dilation, groups, bias, mode):
    layer = Conv(out_channels, kernel, stride, padding, dilation, groups, bias, mode)
    try:
        module = nn.Conv2d(shape[0], out_channels, kernel, stride, padding, dilation, groups, bias, mode)
    except (ValueError, RuntimeError):
        module = None  # torch refuses the layer itself (groups, same with stride)
    expected = _torch_shape(module, shape) if module is not None else None
    ours, params = _ours(layer, shape)
    assert ours == expected
    if module is not None and expected is not None:
        assert params == sum(p.numel() for p in module.parameters())


@settings(settings.get_profile("torch"))
@given(
    shape=inputs,
    op=st.sampled_from(["max", "avg"]),
    kernel=sizes,
    stride=st.one_of(st.none(), sizes),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    ceil_mode=st.booleans(),
)
def test_pooling_matches_torch(shape, op, kernel, stride, padding, dilation, ceil_mode):
    if op == "max":
        layer = Pool("max", kernel, stride, padding, dilation, ceil_mode)
        module = nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)
    else:
        layer = Pool("avg", kernel, stride, padding, (1, 1), ceil_mode)
        module = nn.AvgPool2d(kernel, stride, padding, ceil_mode=ceil_mode)
    assert _ours(layer, shape)[0] == _torch_shape(module, shape)


@given(
    size=st.integers(1, 64),
    kernel=st.integers(1, 9),
    stride=st.integers(1, 5),
    pad=st.integers(0, 4),
    dilation=st.integers(1, 3),
)
@settings(deadline=None, max_examples=200)
def test_the_formula_is_floor_of_the_textbook_formula(size, kernel, stride, pad, dilation):
    expected = (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1
    assert window_output(size, kernel, stride, 2 * pad, dilation, ceil_mode=False) == expected


@settings(settings.get_profile("torch"), max_examples=60)
@given(
    kernels=st.lists(st.tuples(st.integers(1, 5), st.integers(1, 3), st.integers(1, 2)), min_size=1, max_size=4),
)
def test_receptive_field_is_what_a_gradient_reaches(kernels):
    """Backpropagate from one output pixel through convs of ones: the touched input is the receptive field."""
    layers = tuple(Conv(1, (k, k), (s, s), (0, 0), (d, d), bias=False) for k, s, d in kernels)
    try:
        report = analyse(layers, (1, 64, 64))
    except ShapeError:
        return
    modules = []
    for k, s, d in kernels:
        conv = nn.Conv2d(1, 1, k, s, 0, d, bias=False)
        nn.init.ones_(conv.weight)
        modules.append(conv)
    x = torch.zeros(1, 1, 64, 64, requires_grad=True)
    y = nn.Sequential(*modules)(x)
    y[0, 0, 0, 0].backward()
    rows = torch.nonzero(x.grad[0, 0].sum(1)).flatten()
    cols = torch.nonzero(x.grad[0, 0].sum(0)).flatten()
    extent = (int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1))
    assert report.layers[-1].receptive_field == extent
    jump = 1
    for _, s, _ in kernels:
        jump *= s
    assert report.layers[-1].jump == (jump, jump)


@pytest.mark.parametrize("name", ["tutorial", "tiny", "lenet5", "examples"])
def test_built_in_architectures_params_match_a_torch_model(name):
    from cnncli.core.arch.builtins import lookup

    arch = lookup(name)
    report = analyse(arch.layers, arch.input_shape)
    # the same network by hand in torch, layer for layer
    modules = []
    channels = arch.input_shape[0]
    shape = arch.input_shape
    for row in report.leaves:
        layer = row.layer
        if row.kind == "conv":
            modules.append(nn.Conv2d(channels, row.output_shape[0], layer.kernel_size, layer.stride, layer.padding))
            channels = row.output_shape[0]
        elif row.kind == "fc":
            modules.append(nn.Linear(row.input_shape[0], row.output_shape[0]))
        elif row.kind == "maxpool":
            modules.append(nn.MaxPool2d(layer.kernel_size, layer.stride))
        elif row.kind == "avgpool":
            modules.append(nn.AvgPool2d(layer.kernel_size, layer.stride))
        elif row.kind == "flatten":
            modules.append(nn.Flatten())
    model = nn.Sequential(*modules)
    out = model(torch.zeros(2, *shape))
    assert tuple(out.shape[1:]) == report.output_shape
    assert sum(p.numel() for p in model.parameters()) == report.total_params
