"""Progress reporting as callbacks: the core says what is happening, the CLI decides how it looks.

Core functions take a `progress: Reporter` argument (default: NullReporter) and call its methods;
they never print. The CLI passes a reporter that draws Rich bars on a terminal or writes plain,
throttled lines to a pipe (cnncli/cli/progress.py), and tests can pass a RecordingReporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# a warning is shown as one ("warning: ...", in yellow); a detail only with -v
MessageLevel = Literal["info", "warning", "detail"]


class Reporter(Protocol):
    def start(self, description: str, total: float | None = None, unit: str = "") -> int:
        """Begin a task (a file to download, an epoch); returns its id. `unit` "B" means bytes."""
        ...

    def update(
        self, task: int, advance: float = 0, completed: float | None = None, total: float | None = None, **fields: Any
    ) -> None:
        """Move a task on; `fields` are live figures to show beside it (loss=0.12, accuracy=0.98)."""
        ...

    def finish(self, task: int, status: str = "", ok: bool = True) -> None:
        """End a task with a one-line verdict ("verified", "loss 0.031, accuracy 99.1%")."""
        ...

    def message(self, text: str, level: MessageLevel = "info") -> None:
        """A line worth showing by itself (a mirror failed, a checkpoint was saved); level info or warning,
        or detail: shown only when asked for (-v), e.g. each attempt at a host that could not be reached."""
        ...


class NullReporter:
    """Reports nowhere: the default for core functions and for --quiet."""

    def start(self, description: str, total: float | None = None, unit: str = "") -> int:
        return 0

    def update(
        self, task: int, advance: float = 0, completed: float | None = None, total: float | None = None, **fields: Any
    ) -> None:
        pass

    def finish(self, task: int, status: str = "", ok: bool = True) -> None:
        pass

    def message(self, text: str, level: MessageLevel = "info") -> None:
        pass


NULL_REPORTER = NullReporter()  # the default `progress=` of core functions (one shared instance: it holds no state)


@dataclass
class RecordedTask:
    description: str
    total: float | None
    unit: str
    completed: float = 0.0
    fields: dict[str, Any] = field(default_factory=dict)
    status: str | None = None
    ok: bool | None = None


@dataclass
class RecordingReporter:
    """Keeps every call, for tests."""

    tasks: list[RecordedTask] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)

    def start(self, description: str, total: float | None = None, unit: str = "") -> int:
        self.tasks.append(RecordedTask(description, total, unit))
        return len(self.tasks) - 1

    def update(
        self, task: int, advance: float = 0, completed: float | None = None, total: float | None = None, **fields: Any
    ) -> None:
        record = self.tasks[task]
        record.completed = completed if completed is not None else record.completed + advance
        if total is not None:
            record.total = total
        record.fields.update(fields)

    def finish(self, task: int, status: str = "", ok: bool = True) -> None:
        self.tasks[task].status, self.tasks[task].ok = status, ok

    def message(self, text: str, level: MessageLevel = "info") -> None:
        self.messages.append((level, text))
