"""The model builder: the module it makes is the network the analysis describes, layer for layer.

Every test over architectures is parametrized over ARCHITECTURES, so built-ins added later are covered,
on MNIST's 1x28x28 and on CIFAR-10's 3x32x32 wherever the arithmetic allows.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.arch.modules import expected_tensors, module_type
from cnncli.core.arch.spec import parse_spec
from cnncli.core.errors import ShapeError
from cnncli.core.nn.build import build_model
from tests.support.helpers import CASES, FLAT, INPUTS, KITCHEN_SINK, built, forward

torch.set_num_threads(1)


@pytest.mark.parametrize(("name", "data"), CASES)
def test_output_shape_and_parameters_equal_the_analysis(name, data):
    model = built(name, data)
    assert forward(model, INPUTS[data]).shape == (2, *model.report.output_shape)
    assert sum(p.numel() for p in model.parameters()) == model.report.total_params


@pytest.mark.parametrize(("name", "data"), CASES)
def test_module_names_and_state_dict_are_the_ones_the_analysis_predicts(name, data):
    model = built(name, data)
    modules = dict(model.named_modules())
    for report in model.report.layers:
        assert type(modules[report.name]).__name__ == module_type(report), report.name
    assert len(modules) == len(model.report.layers) + 1  # the ConvNet itself, and nothing unnamed
    state = model.state_dict()
    expected = expected_tensors(model.report)
    assert list(state) == list(expected)
    assert all(tuple(state[k].shape) == expected[k].shape for k in state)


@pytest.mark.parametrize("spec", [KITCHEN_SINK, FLAT])
def test_every_layer_kind_builds_and_agrees_with_the_analysis(spec):
    model = build_model(parse_spec(spec), (3, 32, 32), 7)
    assert forward(model, (3, 32, 32)).shape == (2, *model.report.output_shape)
    assert sum(p.numel() for p in model.parameters()) == model.report.total_params
    assert sum(b.numel() for b in model.buffers()) == sum(r.buffers for r in model.report.leaves)
    state = model.state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == {
        k: t.shape for k, t in expected_tensors(model.report).items()
    }


def test_kitchen_sink_modules_are_configured_as_written():
    model = build_model(parse_spec(KITCHEN_SINK), (3, 32, 32), 7)
    modules = dict(model.named_modules())
    first = modules["block1.conv1"]
    assert (first.padding, first.padding_mode, first.in_channels) == ("same", "reflect", 3)
    strided = modules["conv1"]
    assert (strided.stride, strided.groups, strided.bias, strided.padding_mode) == ((2, 2), 2, None, "circular")
    assert modules["block3.conv1"].dilation == (2, 2)
    assert modules["pool1"].ceil_mode is True
    assert isinstance(modules["block3.block1.bn1"], nn.BatchNorm2d)
    assert isinstance(modules["bn1"], nn.BatchNorm1d)
    assert modules["block1.lrelu1"].negative_slope == pytest.approx(0.2)
    assert modules["drop1"].p == pytest.approx(0.1)
    assert modules["fc2"].out_features == 7 and modules["fc2"].bias is None


def test_the_same_name_builds_for_mnist_and_cifar10():
    for shape in INPUTS.values():
        model = build_model(ARCHITECTURES["tutorial"].layers, shape, 10)
        assert model.conv1.in_channels == shape[0]
        assert forward(model, shape).shape == (2, 10)


def test_classes_resolves_to_the_class_count():
    model = build_model(parse_spec("conv(classes, 3) gap fc(classes)"), (1, 8, 8), 5)
    assert model.conv1.out_channels == 5 and model.fc1.out_features == 5


def test_an_impossible_spec_fails_before_any_weight_is_allocated(monkeypatch):
    made = []
    original = nn.Conv2d.__init__

    def spy(self, *args, **kwargs):
        made.append(args)
        original(self, *args, **kwargs)

    monkeypatch.setattr(nn.Conv2d, "__init__", spy)
    with pytest.raises(ShapeError, match=r"conv3 \(conv\(8, 25\)\) leaves no pixels"):
        build_model(parse_spec("conv(8, 3) conv(8, 3) conv(8, 25)"), (1, 28, 28), 10)
    assert made == []
    with pytest.raises(ShapeError, match="needs a C x H x W feature map"):
        build_model(parse_spec("fc(10) conv(8, 3)"), (1, 28, 28), 10)
    assert made == []
