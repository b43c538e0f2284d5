"""Rendering helpers shared by the commands: numbers, tables and notes for people, on stderr."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from cnncli.cli.env import Env
from cnncli.core.arch.shapes import ChainReport, Note, format_shape

if TYPE_CHECKING:
    from rich.table import Table


def number(value: int | float) -> str:
    """1234567 -> '1,234,567'."""
    return f"{value:,}"


def table(
    env: Env, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None, right: Iterable[int] = ()
) -> Table:
    """A Rich table: rounded boxes on a terminal, plain ASCII when stderr is a file or a pipe."""
    from rich import box
    from rich.table import Table

    aligned = set(right)
    result = Table(
        title=title,
        box=box.ROUNDED if env.stderr_isatty else box.ASCII,
        title_justify="left",
        header_style="bold" if env.color else None,
        show_header=any(columns),  # a key-value table has no header
    )
    for index, name in enumerate(columns):
        result.add_column(name, justify="right" if index in aligned else "left", overflow="fold")
    for row in rows:
        result.add_row(*(str(cell) for cell in row))
    return result


def shape_path(report: ChainReport) -> str:
    """The shapes a tensor goes through, each change once: 1x28x28 -> 32x28x28 -> 32x14x14 -> ..."""
    path = [format_shape(report.input_shape)]
    for layer in report.leaves:
        shape = format_shape(layer.output_shape)
        if shape != path[-1]:
            path.append(shape)
    return " -> ".join(path)


def notes_text(notes: Iterable[Note]) -> list[str]:
    return [f"{note.level}: {note.text}" for note in notes]


def percent(value: float | None) -> str:
    """0.9914 -> '99.14%'; None (not measured) -> '-'."""
    return "-" if value is None else f"{100 * value:.2f}%"
