"""Commands registered by name and built when first used, so a run imports only its own command.

Importing every command module (and the core modules each pulls in) took 0.24 s of `cnn shapes` and
of every TAB of completion (python -X importtime, 2-core AMD EPYC); a run needs one of them. The root
group here knows every command by name, builds the one asked for, and lists all of them in `cnn --help`
from the summary line of each command's docstring, read from its source file rather than imported
(tests/cli/test_lazy.py checks that what it reads is the docstring Typer shows).
"""

from __future__ import annotations

import ast
import importlib
import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib.util import find_spec
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command's function lives, and what `app.command(...)` is given for it."""

    module: str
    function: str
    options: dict[str, Any] = field(default_factory=dict)

    def callback(self) -> Any:
        return getattr(importlib.import_module(self.module), self.function)

    def docstring(self) -> str | None:
        """The function's docstring as inspect.getdoc gives it, read from the source without importing it."""
        spec = find_spec(self.module)
        origin = spec.origin if spec else None
        if origin is None or not origin.endswith(".py"):
            return inspect.getdoc(self.callback())
        with open(origin, encoding="utf-8") as source:
            text = source.read()
        start = text.find(f"\ndef {self.function}(")
        opening = text.find('"""', start)
        closing = text.find('"""', opening + 3)
        if start < 0 or opening < 0 or closing < 0 or "\ndef " in text[start + 1 : opening]:
            return inspect.getdoc(self.callback())
        prefix = "r" if text[opening - 1] in "rR" else ""
        return inspect.cleandoc(ast.literal_eval(prefix + text[opening : closing + 3]))


class LazyCommands(Mapping[str, Any]):
    """name -> Click command, each built on first lookup by the same path Typer's own registration takes."""

    def __init__(self, table: Mapping[str, LazyCommand], group: typer.Typer) -> None:
        self._table = table
        self._group = group
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            entry = self._table[name]  # KeyError for a name not in the table, as for a plain dict
            self._built[name] = _build(name, entry, self._group)
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def listing(self, name: str) -> Any:
        """A command as `cnn --help` lists it: the built one if there is one, else a stand-in with its help."""
        if name in self._built:
            return self._built[name]
        entry = self._table[name]
        options = entry.options
        return TyperCommand(
            name=name,
            help=entry.docstring(),
            short_help=options.get("short_help"),
            hidden=options.get("hidden", False),
            deprecated=options.get("deprecated", False),
        )


def _build(name: str, entry: LazyCommand, group: typer.Typer) -> Any:
    from typer.main import get_command_from_info

    holder = typer.Typer()
    holder.command(name, **entry.options)(entry.callback())
    return get_command_from_info(
        holder.registered_commands[0],
        pretty_exceptions_short=group.pretty_exceptions_short,
        rich_markup_mode=group.rich_markup_mode,
    )


def lazy_group(table: Mapping[str, LazyCommand], owner: typer.Typer) -> type[TyperGroup]:
    """The root group class for `owner` (Typer(cls=...)): its commands are `table`'s, built on demand."""

    class LazyGroup(TyperGroup):
        def __init__(self, **attrs: Any) -> None:
            attrs["commands"] = None
            super().__init__(**attrs)
            self.commands = LazyCommands(table, owner)  # type: ignore[assignment]
            self._listing = False  # True while `--help` lists the commands: no command is built for that

        def list_commands(self, ctx: Any) -> list[str]:
            return list(table)

        def get_command(self, ctx: Any, name: str) -> Any:
            commands: LazyCommands = self.commands  # type: ignore[assignment]
            if name not in table:
                return None
            return commands.listing(name) if self._listing else commands[name]

        def format_commands(self, ctx: Any, formatter: Any) -> None:
            self._listing = True
            try:
                super().format_commands(ctx, formatter)
            finally:
                self._listing = False

    return LazyGroup
