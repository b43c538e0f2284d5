"""TOML and JSON readers for text we were handed: every fault, however deep, is a ValueError.

tomllib and json recurse once per nesting level, so `a = [[[[...]]]]` a hundred thousand deep raises
RecursionError, which is no parse error and would escape the `except ValueError` of every caller (and
be reported as a bug). Here it is one more malformed document.
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any


class TooDeep(ValueError):
    """A document nested deeper than the parser can follow."""

    def __init__(self) -> None:
        super().__init__("nested too deeply to read")


def loads_toml(text: str) -> dict[str, Any]:
    """tomllib.loads; raises ValueError (TOMLDecodeError or TooDeep) for anything that is not TOML."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise TooDeep() from None


def loads_json(text: str | bytes) -> Any:
    """json.loads; raises ValueError (JSONDecodeError, UnicodeDecodeError or TooDeep) for anything else."""
    try:
        return json.loads(text)
    except RecursionError:
        raise TooDeep() from None


def is_number(value: Any) -> bool:
    """A finite int or float as parsed JSON or TOML gives it (a bool is not a number here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
