"""Hypothesis strategies that damage valid files the way the world does: flipped and cut bytes, and
structured edits of the JSON and TOML inside them (values of every type, huge numbers, deep nesting).

Each strategy takes a valid original and draws a damaged copy, so most examples get past the first
check and reach the deeper ones; `expect_clean_failure` is the property every parser must have.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from cnncli.core.errors import CnnError

# numbers at the edges: zero, negatives, TOML's and JSON's limits, past 64 bits, not finite
EDGE_INTS = st.sampled_from([0, -1, 1, 2, 7, 255, 2**31, 2**32 - 1, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**12, 10**30])
EDGE_FLOATS = st.sampled_from([0.0, -0.0, 1e-300, 0.5, 1e300, math.inf, -math.inf, math.nan])


def _deep(draw_depth: int) -> Any:
    value: Any = 1
    for _ in range(draw_depth):
        value = [value]
    return value


SCALARS = st.one_of(st.none(), st.booleans(), EDGE_INTS, st.integers(), EDGE_FLOATS, st.floats(), st.text(max_size=20))
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
# TOML has no null, and tomli_w writes what remains; nesting deep enough to trouble a recursive parser
TOML_VALUES = st.recursive(
    st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1), EDGE_FLOATS, st.floats(), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@st.composite
def damaged_bytes(draw: st.DrawFn, original: bytes, focus: int | None = None) -> bytes:
    """One to six byte-level damages: flips, overwrites, cuts, insertions, deletions, little-endian ints.

    `focus`: positions below it are drawn more often (a header lives at the start of a file).
    """
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 6))):
        limit = max(len(data) - 1, 0)
        near = min(focus, limit) if focus and draw(st.booleans()) else limit
        where = draw(st.integers(0, near))
        kind = draw(st.sampled_from(["flip", "byte", "cut", "insert", "delete", "int64"]))
        if kind == "flip" and data:
            data[where] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[where] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[where:]
        elif kind == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[where : where + draw(st.integers(1, 16))]
        elif kind == "int64":
            data[where : where + 8] = draw(EDGE_INTS.map(lambda n: (n % 2**64).to_bytes(8, "little")))
    return bytes(data)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path to a value inside nested dicts and lists."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*prefix, index))


@st.composite
def edited_tree(draw: st.DrawFn, tree: Any, values: st.SearchStrategy = JSON_VALUES) -> Any:
    """A deep copy of a JSON/TOML tree with one to four values replaced, removed or added."""
    tree = json.loads(json.dumps(tree, default=str))
    for _ in range(draw(st.integers(1, 4))):
        paths = [p for p in _paths(tree) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = tree
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["replace", "replace", "remove", "add", "deepen"]))
        if action == "replace":
            parent[path[-1]] = draw(values)
        elif action == "remove":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(values)
        elif action == "deepen":
            parent[path[-1]] = _deep(draw(st.sampled_from([2, 50])))
    return tree


@contextlib.contextmanager
def expect_clean_failure() -> Iterator[list[CnnError]]:
    """The property: the body succeeds, or raises a CnnError with a one-line message; nothing else escapes."""
    caught: list[CnnError] = []
    try:
        yield caught
    except CnnError as error:
        assert error.message and "\n" not in error.message, error.message
        caught.append(error)
