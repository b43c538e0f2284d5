"""Option values coerced without Pydantic when plain Python gives the same answer.

Typer (0.29+) coerces every parameter of the command being run through a Pydantic TypeAdapter, and
importing Pydantic and building the adapters took 0.16 s of the 0.5 s that `cnn shapes ...` and every
TAB of shell completion cost (python -X importtime, 2-core AMD EPYC). Most values need no such
machinery: a flag is already a bool, a string a str, `--kernel 5` an int. This module puts a lean
coercion in front of Typer's: it answers those plain cases itself and hands everything else (bad
values, bounds it would break, paths, types it does not know) to Typer's own coercion, built only
then, so every error message and every unusual case stays Typer's. tests/cli/test_lean_params.py
checks, with Hypothesis, that both give equal values wherever the lean one answers.

It wraps one private hook of Typer (`typer.core.build_runtime_param`); when a Typer release moves it,
`install()` does nothing and Typer works as before, only slower to start.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Union, get_args, get_origin

_DEFER = object()  # "not a plain case: ask Typer"
# Typer's defaults for a path option's checks: with these, a path is just Path(string)
PLAIN_PATH = {
    "exists": False,
    "file_okay": True,
    "dir_okay": True,
    "writable": False,
    "readable": True,
    "resolve_path": False,
    "allow_dash": False,
    "path_type": None,
}
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]{1,3})?")


def _plain_int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) <= 18 and _INT.fullmatch(value):
        return int(value)
    return _DEFER


def _plain_float(value: Any) -> Any:
    if isinstance(value, float):
        return value
    if isinstance(value, str) and len(value) <= 32 and _FLOAT.fullmatch(value):
        return float(value)
    return _DEFER


def _within(number: Any, parameter_info: Any) -> Any:
    """The number when inside the option's bounds; outside, Typer reports (or clamps) it."""
    low, high = parameter_info.min, parameter_info.max
    if number is _DEFER or (low is not None and number < low) or (high is not None and number > high):
        return _DEFER
    return number


def _plain_path_checks(parameter_info: Any) -> bool:
    """No check on the path beyond its being one: then a string is just Path(string)."""
    return all(getattr(parameter_info, name, None) == default for name, default in PLAIN_PATH.items())


def _plain_path(value: Any) -> Any:
    if isinstance(value, Path):
        return value
    return Path(value) if type(value) is str and value else _DEFER


def _converter(annotation: Any, parameter_info: Any) -> Any:
    """A function value -> coerced value or _DEFER, for the annotations handled here; else None."""
    if parameter_info.parser is not None or getattr(parameter_info, "click_type", None) is not None:
        return None
    if annotation is bool:
        return lambda value: value if isinstance(value, bool) else _DEFER
    if annotation is str:
        return lambda value: value if type(value) is str else _DEFER
    if annotation is int:
        return lambda value: _within(_plain_int(value), parameter_info)
    if annotation is float:
        return lambda value: _within(_plain_float(value), parameter_info)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum) and parameter_info.case_sensitive:
        by_value = {member.value: member for member in annotation if isinstance(member.value, str)}
        return lambda value: value if isinstance(value, annotation) else by_value.get(value, _DEFER)
    if annotation is Path and _plain_path_checks(parameter_info):
        return _plain_path
    members = get_args(annotation)
    if get_origin(annotation) in (Union, UnionType) and len(members) == 2 and NoneType in members:
        # `X | None` left at None (`cnn train` without --resume or --config): nothing to coerce; a value goes to X's
        inner = _converter(next(a for a in members if a is not NoneType), parameter_info)
        return lambda value: None if value is None else (inner(value) if inner else _DEFER)
    if get_origin(annotation) is list and get_args(annotation) == (str,):
        return lambda value: (
            list(value) if isinstance(value, (list, tuple)) and all(type(v) is str for v in value) else _DEFER
        )
    return None


def install() -> None:
    """Put the lean coercion in front of Typer's; once, and only where Typer has the hook."""
    try:
        from typer import core
        from typer._coercion import RuntimeParam
    except ImportError:
        return
    original = getattr(core, "build_runtime_param", None)
    if original is None or getattr(original, "_cnn_lean", False):
        return

    class LeanRuntimeParam(RuntimeParam):
        """Answers plain values itself; builds Typer's own coercion for the rest, once, when first needed."""

        def __init__(self, descriptor: Any, convert: Any) -> None:
            super().__init__(parameter_info=descriptor.parameter_info, annotation=descriptor.annotation)
            object.__setattr__(self, "_descriptor", descriptor)
            object.__setattr__(self, "_convert", convert)
            object.__setattr__(self, "_typer", None)

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            coerced = self._convert(value)
            if coerced is not _DEFER:
                return coerced
            if self._typer is None:
                object.__setattr__(self, "_typer", original(self._descriptor))
            return self._typer._coerce_value(value, param=param, ctx=ctx)

    def build_runtime_param(descriptor: Any) -> Any:
        if descriptor.file_annotation is None:
            convert = _converter(descriptor.annotation, descriptor.parameter_info)
            if convert is not None:
                return LeanRuntimeParam(descriptor, convert)
        return original(descriptor)

    build_runtime_param._cnn_lean = True  # type: ignore[attr-defined]
    core.build_runtime_param = build_runtime_param
