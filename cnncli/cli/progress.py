"""Reporters that show the core's progress: Rich bars on a terminal, plain lines elsewhere.

`reporter_for(env)` picks one: nothing with --quiet, Rich live bars when stderr is a terminal, and
otherwise plain lines: one when a task starts (if it is long enough to matter), at most one per 10% of
it and only after a few seconds of silence, and one with its verdict; never carriage returns.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from cnncli.cli.env import Env
from cnncli.core.reporting import MessageLevel, NullReporter
from cnncli.core.units import byte_size


def format_fields(fields: dict[str, Any]) -> str:
    """loss=0.1234, accuracy=0.98, img_s=5000 -> 'loss 0.1234  accuracy 98.00%  5,000 img/s'."""
    parts = []
    for name, value in fields.items():
        if value is None:
            continue
        if name.endswith("accuracy") and isinstance(value, float):
            parts.append(f"{name.replace('_', ' ')} {100 * value:.2f}%")
        elif name == "img_s":
            parts.append(f"{value:,.0f} img/s")
        else:
            text = f"{value:.4g}" if isinstance(value, float) else str(value)
            parts.append(f"{name.replace('_', ' ')} {text}")
    return "  ".join(parts)


def _amount(value: float, unit: str) -> str:
    if unit == "B":
        return byte_size(value)
    return f"{int(value):,}{' ' + unit if unit else ''}"


class QuietReporter(NullReporter, AbstractContextManager):
    """--quiet: nothing at all."""

    def __exit__(self, *exc: object) -> None:
        return None


@dataclass
class _PlainTask:
    description: str
    total: float | None
    unit: str
    completed: float = 0.0
    started: float = field(default_factory=lambda: time.monotonic())
    last_line: float = field(default_factory=lambda: time.monotonic())
    last_decile: int = 0
    fields: dict[str, Any] = field(default_factory=dict)


class PlainReporter(AbstractContextManager):
    """Plain lines for a pipe or a log file: throttled, one verdict per task."""

    quiet_seconds = 10.0  # a task is "long" once it has run this long without a line: only then a progress line
    silent_units = frozenset({"epoch"})  # tasks whose children report for them (an epoch's own verdict line)

    def __init__(self, env: Env) -> None:
        self.env = env
        self.tasks: dict[int, _PlainTask] = {}

    def _line(self, text: str) -> None:
        self.env.stderr.write(text + "\n")
        self.env.stderr.flush()

    def start(self, description: str, total: float | None = None, unit: str = "") -> int:
        task = len(self.tasks)
        self.tasks[task] = _PlainTask(description, total, unit)
        if unit == "B" and total:
            self._line(f"{description}: {_amount(total, unit)}")
        return task

    def update(
        self, task: int, advance: float = 0, completed: float | None = None, total: float | None = None, **fields: Any
    ) -> None:
        state = self.tasks[task]
        state.completed = completed if completed is not None else state.completed + advance
        if total is not None:
            state.total = total
        state.fields.update(fields)
        if not state.total or state.unit in self.silent_units:
            return
        decile = int(10 * state.completed / state.total)
        now = time.monotonic()
        if decile > state.last_decile and decile < 10 and now - state.last_line >= self.quiet_seconds:
            state.last_decile, state.last_line = decile, now
            extra = format_fields(state.fields)
            self._line(
                f"{state.description}: {decile * 10}% ({_amount(state.completed, 'B' if state.unit == 'B' else '')} of "
                f"{_amount(state.total, state.unit)})" + (f"  {extra}" if extra else "")
            )

    def finish(self, task: int, status: str = "", ok: bool = True) -> None:
        state = self.tasks.pop(task, None)
        if state is None:
            return
        self._line(f"{state.description}: {status}" if status else state.description)

    def message(self, text: str, level: MessageLevel = "info") -> None:
        if level == "detail" and not self.env.verbose:
            return
        self._line(f"warning: {text}" if level == "warning" else text)

    def __exit__(self, *exc: object) -> None:
        return None


class RichReporter(AbstractContextManager):
    """Live Rich bars on stderr: description, bar, amount, rate, time left, and the task's live figures."""

    def __init__(self, env: Env) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        class _Amount(MofNCompleteColumn):
            def render(self, task):  # bytes as sizes, everything else as "M/N"
                if task.fields.get("unit") == "B":
                    return DownloadColumn().render(task)
                return super().render(task)

        class _Rate(TransferSpeedColumn):
            def render(self, task):
                if task.fields.get("unit") == "B":
                    return super().render(task)
                from rich.text import Text

                speed = task.finished_speed or task.speed
                unit = task.fields.get("unit") or "it"
                return Text(f"{speed:,.0f} {unit}/s" if speed else "", style="progress.data.speed")

        self.env = env
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            _Amount(),
            _Rate(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[extra]}"),
            console=env.console,
            transient=False,
        )

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, description: str, total: float | None = None, unit: str = "") -> int:
        return int(self.progress.add_task(description, total=total, unit=unit, extra=""))

    def update(
        self, task: int, advance: float = 0, completed: float | None = None, total: float | None = None, **fields: Any
    ) -> None:
        options: dict[str, Any] = {"advance": advance} if completed is None else {"completed": completed}
        if total is not None:
            options["total"] = total
        if fields:
            options["extra"] = format_fields(fields)
        self.progress.update(task, **options)  # type: ignore[arg-type]

    def finish(self, task: int, status: str = "", ok: bool = True) -> None:
        # by id, not by position: the list shrinks as earlier tasks finish
        state = next((t for t in self.progress.tasks if t.id == task), None)
        if state is None:
            return
        self.progress.remove_task(task)
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        self.progress.console.print(
            f"{mark} {state.description}: {status}" if status else f"{mark} {state.description}", highlight=False
        )

    def message(self, text: str, level: MessageLevel = "info") -> None:
        if level == "detail" and not self.env.verbose:
            return
        style = "yellow" if level == "warning" else None
        self.progress.console.print(
            ("warning: " if level == "warning" else "") + text, style=style, markup=False, highlight=False
        )


def reporter_for(env: Env) -> QuietReporter | PlainReporter | RichReporter:
    """The reporter that fits how the command was run; use it as a context manager."""
    if env.quiet:
        return QuietReporter()
    if env.stderr_isatty:
        return RichReporter(env)
    return PlainReporter(env)
