"""The environment a command runs in: its streams and how to write to them.

Injectable (as httpie does) so commands run in-process under test with any streams. The rules:
stdout carries JSON and nothing else, and only with --json/--jsonl; everything for people (tables,
progress, messages) goes to stderr, styled when stderr is a terminal and plain otherwise.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


@dataclass
class Env:
    stdout: IO[str] = field(default_factory=lambda: sys.stdout)
    stderr: IO[str] = field(default_factory=lambda: sys.stderr)
    stdin: IO[bytes] | None = None
    stderr_isatty: bool = False
    color: bool = False
    json: bool = False
    quiet: bool = False
    verbose: bool = False

    @classmethod
    def from_system(
        cls, *, json: bool = False, quiet: bool = False, verbose: bool = False, no_color: bool = False
    ) -> Env:
        """The real process streams; colour only on a terminal, never with --no-color or NO_COLOR set."""
        stderr = sys.stderr
        tty = _isatty(stderr)
        color = tty and not no_color and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
        return cls(
            stdout=sys.stdout,
            stderr=stderr,
            stdin=getattr(sys.stdin, "buffer", None),
            stderr_isatty=tty,
            color=color,
            json=json,
            quiet=quiet,
            verbose=verbose,
        )

    @cached_property
    def console(self) -> Console:
        """A Rich console on stderr: live displays and colour on a terminal, plain text elsewhere."""
        from rich.console import Console

        return Console(
            file=self.stderr,
            force_terminal=self.stderr_isatty,
            no_color=not self.color,
            highlight=False,
            emoji=False,
            soft_wrap=False,
            width=None if self.stderr_isatty else 120,
        )

    def emit_json(self, document: Any) -> None:
        """The command's result as one JSON document on stdout."""
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
        self.stdout.flush()

    def emit_jsonl(self, document: Any) -> None:
        """One line of a JSON Lines stream on stdout, flushed at once so pipes see it."""
        self.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
        self.stdout.flush()

    @property
    def show(self) -> bool:
        """Whether people-facing output is wanted: not with --quiet."""
        return not self.quiet

    def say(self, text: str = "", style: str | None = None) -> None:
        """A line for people on stderr, unless --quiet."""
        if not self.show:
            return
        if self._plain(text):
            self.stderr.write(text + "\n")
            self.stderr.flush()
        else:
            self.console.print(text, style=style, markup=False, soft_wrap=True)

    def _plain(self, text: str) -> bool:
        """Whether Rich would write `text` as it is: no terminal, no colour, no tabs or control characters.

        Then the line is written directly, and a command that only says lines never imports Rich
        (0.04 s of `cnn shapes`'s start-up); tests/cli/test_env.py checks both give the same bytes.
        Once the console exists (a table, a live display), every line goes through it, in order.
        """
        return (
            not self.stderr_isatty
            and not self.color
            and "console" not in self.__dict__
            and all(line.isprintable() for line in text.split("\n"))
        )

    def render(self, renderable: Any) -> None:
        """A Rich renderable (a table, a panel) on stderr, unless --quiet."""
        if self.show:
            self.console.print(renderable)
