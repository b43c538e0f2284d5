"""`cnn summary`'s figures against torch's own tools, for every built-in architecture.

Parameter counts and output shapes must be what torchinfo reports for the built module, row by row;
multiply-adds must be half of what torch.utils.flop_counter.FlopCounterMode counts for each conv and
linear layer. Parametrized over ARCHITECTURES, so built-ins added later are covered.
"""

from __future__ import annotations

import pytest
import torch
import torchinfo
from torch.utils.flop_counter import FlopCounterMode

from cnncli.core.arch.cost import summarise
from cnncli.core.arch.spec import parse_spec
from cnncli.core.errors import UsageError
from cnncli.core.nn.build import build_model
from tests.support.helpers import CASES, FLAT, INPUTS, KITCHEN_SINK, WITH_BATCHNORM, built, forward

torch.set_num_threads(1)


def _torchinfo_rows(model, shape) -> tuple[dict[str, tuple], object]:
    """torchinfo's rows below the model itself, by dotted name: output shape, parameters, class."""
    stats = torchinfo.summary(model, input_size=(1, *shape), depth=20, verbose=0, device="cpu")
    rows, path = {}, []
    for info in stats.summary_list[1:]:
        path = [*path[: info.depth - 1], info.var_name]
        rows[".".join(path)] = (tuple(info.output_size[1:]), info.num_params, info.class_name)
    return rows, stats


def _assert_like_torchinfo(model, shape) -> None:
    theirs, stats = _torchinfo_rows(model, shape)
    summary = summarise(model.report)
    assert [row.name for row in summary.rows] == list(theirs)
    for row in summary.rows:
        assert theirs[row.name] == (row.output_shape, row.params, row.module_type), row.name
    assert stats.total_params == stats.trainable_params == summary.totals.trainable_params
    # torchinfo's "params size" counts parameters only; ours adds the frozen buffers the file holds too
    buffer_bytes = sum(b.numel() * b.element_size() for b in model.buffers())
    assert summary.totals.param_bytes == stats.total_param_bytes + buffer_bytes


@pytest.mark.parametrize(("name", "data"), CASES)
def test_parameters_and_shapes_equal_torchinfo(name, data):
    _assert_like_torchinfo(built(name, data), INPUTS[data])


@pytest.mark.parametrize("spec", [KITCHEN_SINK, FLAT, WITH_BATCHNORM])
def test_nested_blocks_and_batch_norm_equal_torchinfo(spec):
    model = build_model(parse_spec(spec), (3, 32, 32), 7)
    _assert_like_torchinfo(model, (3, 32, 32))
    assert summarise(model.report).totals.frozen_params == sum(b.numel() for b in model.buffers())


def _assert_macs_like_flop_counter(model, shape) -> None:
    with FlopCounterMode(display=False) as counter:
        forward(model, shape, batch=1)
    counts = counter.get_flop_counts()
    for row in summarise(model.report).rows:
        if row.kind in ("conv", "fc", "block"):
            assert sum(counts.get(f"ConvNet.{row.name}", {}).values()) == 2 * row.macs, row.name
    totals = summarise(model.report).totals
    assert counter.get_total_flops() == totals.flops == 2 * totals.macs


@pytest.mark.parametrize(("name", "data"), CASES)
def test_multiply_adds_are_half_the_flop_counter(name, data):
    _assert_macs_like_flop_counter(built(name, data), INPUTS[data])


@pytest.mark.parametrize("spec", [KITCHEN_SINK, FLAT])
def test_multiply_adds_of_every_layer_kind(spec):
    _assert_macs_like_flop_counter(build_model(parse_spec(spec), (3, 32, 32), 7), (3, 32, 32))


def test_tutorial_totals():
    summary = summarise(built("tutorial", "mnist").report, batch_size=100)
    totals = summary.totals
    assert totals.trainable_params == 3_199_106 and totals.frozen_params == 0
    assert totals.param_bytes == 4 * 3_199_106
    assert totals.macs == 627_200 + 10_035_200 + 3_136_000 + 10_000
    assert totals.input_bytes == 100 * 784 * 4
    outputs = 2 * 32 * 28 * 28 + 32 * 14 * 14 + 2 * 64 * 14 * 14 + 3 * 64 * 7 * 7 + 1000 + 10
    assert totals.activation_bytes == 100 * 4 * outputs
    assert sum(row.params_share for row in summary.rows) == pytest.approx(100)


def test_depth_folds_nested_blocks_into_their_headers():
    report = build_model(parse_spec(KITCHEN_SINK), (3, 32, 32), 7).report
    full = summarise(report)
    top = summarise(report, depth=1)
    assert all(row.depth == 0 for row in top.rows)
    assert [r.name for r in top.rows if r.collapsed] == ["block1", "block2", "block3"]
    assert top.totals == full.totals
    block = next(r for r in top.rows if r.name == "block3")
    children = [r for r in full.rows if r.name.startswith("block3.") and not r.is_block]
    assert block.params == sum(r.params for r in children)
    assert block.activation_bytes == sum(r.activation_bytes for r in children)
    two = summarise(report, depth=2)
    assert [r.name for r in two.rows if r.collapsed] == ["block3.block1"]


def test_nonsense_options_are_usage_errors():
    report = built("tiny", "mnist").report
    with pytest.raises(UsageError):
        summarise(report, batch_size=0)
    with pytest.raises(UsageError):
        summarise(report, depth=0)
