"""The stages `cnn explain` shows are the layers `cnn shapes` reports, with the shapes it reports."""

from __future__ import annotations

import pytest
import torch

from cnncli.core.arch.builtins import ARCHITECTURES
from cnncli.core.arch.query import ChainRequest, chain
from cnncli.core.errors import NotFound
from cnncli.core.explain.stages import captured, last_conv, select, stages
from cnncli.core.nn.fold import fold_batch_norms, in_place_activations
from tests.support.helpers import INPUTS, KITCHEN_SINK, built, metadata_for, random_model


@pytest.mark.parametrize("name", list(ARCHITECTURES))
@pytest.mark.parametrize("data", list(INPUTS))
def test_every_stage_map_has_the_shape_cnn_shapes_reports(name, data):
    network = in_place_activations(fold_batch_norms(built(name, data).eval()))  # as inference runs it
    expected = {
        layer.name: layer.output_shape
        for layer in chain(ChainRequest(name, INPUTS[data])).report.leaves
        if layer.kind in ("conv", "maxpool", "avgpool")
    }
    found = stages(network.report)
    assert [s.name for s in found] == list(expected)
    with torch.no_grad(), captured(network, found) as maps:
        network(torch.randn(1, *INPUTS[data]))
    assert {name: tuple(m.shape[1:]) for name, m in maps.items()} == expected


def test_a_conv_stage_is_shown_after_its_activation_and_pools_as_they_are():
    found = {s.name: s for s in stages(built("base", "mnist").report)}
    assert (found["conv1"].module, found["conv1"].activation) == ("relu1", "relu")
    assert (found["pool1"].module, found["pool1"].activation) == ("pool1", None)
    assert last_conv(tuple(found.values())).name == "conv3"


def test_in_lean_a_conv_is_shown_raw_and_its_pool_after_the_norm_and_relu_that_follow_it():
    found = {s.name: s for s in stages(built("lean", "mnist").report)}
    assert (found["conv1"].module, found["conv1"].activation) == ("conv1", None)
    assert (found["pool1"].module, found["pool1"].activation) == ("relu1", "relu")
    assert last_conv(tuple(found.values())).name == "conv3"


def test_nested_blocks_keep_their_dotted_names_and_the_maps_are_after_the_relu():
    model = random_model(metadata_for(KITCHEN_SINK))
    network = in_place_activations(fold_batch_norms(model.eval()))
    found = stages(network.report)
    assert [s.name for s in found][:2] == ["block1.conv1", "block2.conv1"]
    relu_stages = [s for s in found if s.activation == "leakyrelu"]
    with torch.no_grad(), captured(network, tuple(found)) as maps:
        network(torch.randn(1, 1, 28, 28))
    assert relu_stages and all(maps[s.name].shape[1:] == s.shape for s in found)


def test_only_the_layers_named_in_the_networks_order_and_an_unknown_one_lists_those_there_are():
    all_stages = stages(built("fast", "mnist").report)
    assert [s.name for s in select(all_stages, ["pool2", "conv1"])] == ["conv1", "pool2"]
    with pytest.raises(NotFound) as raised:
        select(all_stages, ["conv1", "conv9", "fc1"])
    assert "'conv9', 'fc1'" in raised.value.message
    assert raised.value.hint == "its conv and pool layers: conv1, pool1, conv2, pool2, conv3, pool3"
