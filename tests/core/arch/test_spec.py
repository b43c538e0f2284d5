"""The spec grammar: what parses, what it parses to, and how faults are pointed at."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncli.core.arch.spec import (
    Activation,
    BatchNorm,
    Block,
    Conv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Linear,
    Pool,
    expand_blocks,
    format_spec,
    parse_spec,
)
from cnncli.core.errors import SpecError


def test_tutorial_parses_to_its_layers():
    layers = parse_spec("conv(32, 5, padding=2) relu maxpool(2) conv(64,5,pad=2), relu mp(2) dropout fc(1000) fc(10)")
    assert layers == (
        Conv(32, (5, 5), padding=(2, 2)),
        Activation("relu"),
        Pool("max", (2, 2)),
        Conv(64, (5, 5), padding=(2, 2)),
        Activation("relu"),
        Pool("max", (2, 2)),
        Dropout(0.5),
        Linear(10 * 100),
        Linear(10),
    )


def test_every_parameter_by_name_and_alias():
    (conv,) = parse_spec("conv2d(out=8, k=3x5, s=2, p=same, d=1x2, g=1, bias=false, mode=reflect)")
    assert conv == Conv(8, (3, 5), (2, 2), "same", (1, 2), 1, False, "reflect")
    (pool,) = parse_spec("avgpool(3, stride=1, padding=1, ceil_mode=true)")
    assert pool == Pool("avg", (3, 3), (1, 1), (1, 1), (1, 1), True)
    assert parse_spec("lrelu(0.2) gelu tanh sigmoid bn gap flatten drop(0.1) linear(classes, bias=0)") == (
        Activation("leakyrelu", 0.2),
        Activation("gelu"),
        Activation("tanh"),
        Activation("sigmoid"),
        BatchNorm(),
        GlobalAvgPool(),
        Flatten(),
        Dropout(0.1),
        Linear("classes", False),
    )


def test_blocks_nest_and_repeat():
    layers = parse_spec("[conv(16, 3) bn relu]x2 [[relu]*3]")
    assert layers == (
        Block((Conv(16, (3, 3)), BatchNorm(), Activation("relu")), 2),
        Block((Block((Activation("relu"),), 3),)),
    )
    assert len(expand_blocks(layers)) == 3


@pytest.mark.parametrize(
    ("spec", "column", "words"),
    [
        ("", 0, "empty spec"),
        ("conv(32)", 0, "needs kernel_size"),
        ("conv(3,3) cnv", 10, "unknown layer 'cnv'"),
        ("conv(3, 3, foo=2)", 11, "no parameter 'foo'"),
        ("relu(1)", 5, "takes no arguments"),
        ("[relu", 5, "never closed"),
        ("conv(3, 3, padding=-1)", 19, "unexpected character '-'"),
        ("conv(0, 3)", 5, "at least 1"),
        ("dropout(1.5)", 8, "probability"),
        ("conv(8, 3, padding_mode=mirror)", 24, "one of zeros, reflect, replicate, circular"),
        ("conv(8, 3, stride=2, s=2)", 21, "given twice"),
        ("conv(8 3)", 7, "expected ',' or ')'"),
        ("[relu]x0", 6, "at least 1"),
        ("relu )", 5, "expected a layer name"),
    ],
)
def test_faults_name_the_column(spec, column, words):
    with pytest.raises(SpecError) as caught:
        parse_spec(spec)
    assert words in caught.value.message
    assert caught.value.position == column


# -- round trip: any layer written back by format_spec parses to the same layer ------------------

sizes = st.tuples(st.integers(1, 9), st.integers(1, 9))
counts = st.one_of(st.integers(1, 512), st.just("classes"))
convs = st.builds(
    Conv,
    out_channels=counts,
    kernel_size=sizes,
    stride=sizes,
    padding=st.one_of(st.tuples(st.integers(0, 4), st.integers(0, 4)), st.sampled_from(["same", "valid"])),
    dilation=sizes,
    groups=st.integers(1, 4),
    bias=st.booleans(),
    padding_mode=st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
)
pools = st.builds(
    Pool,
    op=st.just("max"),
    kernel_size=sizes,
    stride=st.one_of(st.none(), sizes),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=sizes,
    ceil_mode=st.booleans(),
) | st.builds(
    Pool,
    op=st.just("avg"),
    kernel_size=sizes,
    stride=st.one_of(st.none(), sizes),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    ceil_mode=st.booleans(),
)
simple = st.sampled_from(
    [
        BatchNorm(),
        GlobalAvgPool(),
        Flatten(),
        Activation("relu"),
        Activation("gelu"),
        Activation("tanh"),
        Activation("sigmoid"),
    ]
)
layers = st.one_of(
    convs,
    pools,
    simple,
    st.builds(Dropout, p=st.floats(0, 0.99).map(lambda p: round(p, 3))),
    st.builds(Activation, op=st.just("leakyrelu"), negative_slope=st.floats(0, 1).map(lambda v: round(v, 4))),
    st.builds(Linear, out_features=counts, bias=st.booleans()),
)
specs = st.recursive(
    st.lists(layers, min_size=1, max_size=6).map(tuple),
    lambda inner: st.lists(st.one_of(layers, st.builds(Block, inner, st.integers(1, 3))), min_size=1, max_size=4).map(
        tuple
    ),
    max_leaves=12,
)


@given(specs)
def test_format_then_parse_is_identity(layers):
    text = format_spec(layers)
    assert parse_spec(text) == layers
