"""The lean coercion in front of Typer's gives Typer's own values wherever it answers, and defers the rest.

The reference is Typer's own coercion (its Pydantic adapters), built for the same parameters of the real
commands and asked the same values.
"""

from __future__ import annotations

import enum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer import _coercion, core
from typer._click import Context
from typer._click.exceptions import BadParameter
from typer.main import get_command

from cnncli.cli import lean_params
from cnncli.cli.app import COMMANDS, app


def _parameters():
    group = get_command(app)
    found = []
    for name in COMMANDS:
        command = group.get_command(None, name)
        found += [(name, command, param) for param in command.params if hasattr(param, "type_descriptor")]
    return found


PARAMETERS = _parameters()


def _kind(param) -> tuple:
    info = param.type_descriptor.parameter_info
    return (repr(param.type_descriptor.annotation), info.min, info.max, info.clamp, param.multiple, param.nargs)


# one parameter of each kind (annotation, bounds, arity): the 100 options share a dozen kinds
KINDS = list({_kind(p): (n, c, p) for n, c, p in PARAMETERS}.values())


def _numberish() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-(10**20), 10**20).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.from_regex(r"[-+ ]?[0-9]{0,4}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,3})? ?", fullmatch=True),
    )


VALUES = st.one_of(
    st.none(),  # an option left out: `X | None` options default to it
    st.text(max_size=8),
    _numberish(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["max", "avg", "MAX", "tutorial", "mnist", "true", "0", "1e3", "007", "-0"]),
    st.lists(st.text(max_size=4), max_size=3).map(tuple),
)


def _outcome(runtime, value, param, ctx):
    try:
        return ("value", runtime._coerce_value(value, param=param, ctx=ctx))
    except BadParameter as error:
        return ("error", error.format_message())


def test_install_puts_the_lean_coercion_in_front_and_only_once():
    lean_params.install()
    lean_params.install()
    assert getattr(core.build_runtime_param, "_cnn_lean", False)
    assert not getattr(core.build_runtime_param.__closure__[0].cell_contents, "_cnn_lean", False)


def test_plain_values_never_reach_typer_s_adapters():
    """The values a command line of `cnn shapes` gives are answered without building Typer's coercion."""
    shapes_params = {p.name: p for name, _, p in PARAMETERS if name == "shapes"}
    for pname, value in [("kernel", "5"), ("pool", "max"), ("ceil_mode", True), ("classes", 10)]:
        runtime = core.build_runtime_param(shapes_params[pname].type_descriptor)
        assert runtime._coerce_value(value, param=shapes_params[pname], ctx=None) is not None
        assert runtime._typer is None, pname


@pytest.mark.parametrize(("command_name", "command", "param"), KINDS, ids=lambda x: getattr(x, "name", x))
@settings(max_examples=60, deadline=None)
@given(value=VALUES)
def test_same_values_as_typer(command_name, command, param, value):
    descriptor = param.type_descriptor
    ctx = Context(command, info_name=command_name)
    lean = core.build_runtime_param(descriptor)
    reference = _coercion.build_runtime_param(descriptor)
    expected = _outcome(reference, value, param, ctx)
    got = _outcome(lean, value, param, ctx)
    # repr tells nan from nan as == cannot, and 1 from 1.0 and True
    assert (got[0], repr(got[1])) == (expected[0], repr(expected[1]))
    if got[0] == "value":
        assert type(got[1]) is type(expected[1])


def test_an_enum_member_and_its_value_coerce_alike():
    class Kind(enum.StrEnum):
        max = "max"

    from typer.models import OptionInfo

    descriptor = _coercion.resolve_type_descriptor(Kind, OptionInfo())
    lean = core.build_runtime_param(descriptor)
    assert lean._coerce_value("max", param=None, ctx=None) is Kind.max
    assert lean._coerce_value(Kind.max, param=None, ctx=None) is Kind.max
