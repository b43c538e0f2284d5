"""One exception family for everything a user can get wrong, each mapped to a documented exit code.

The CLI catches CnnError, prints `error: <message>` and `hint: <hint>` on stderr and exits with
`exit_code`; anything else is a bug and exits with ExitCode.INTERNAL (traceback only with --verbose).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit statuses of `cnn`, documented in the README."""

    OK = 0
    INTERNAL = 1  # a bug: an exception that is not a CnnError
    USAGE = 2  # bad command-line arguments (also Click's own usage errors)
    BAD_INPUT = 3  # data we were handed is malformed: a spec, an image, a model file, a config
    NOT_FOUND = 4  # a file, model, run or dataset that does not exist
    DOWNLOAD = 5  # every mirror failed, or the bytes did not verify
    PARTIAL = 6  # a batch command finished, but some inputs failed (predict)
    DEVICE = 7  # the requested device (cuda, mps) is not available
    DIVERGED = 8  # training produced a NaN or infinite loss
    IO = 9  # the filesystem refused a write (permissions, disk full)
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    TERMINATED = 143  # SIGTERM (128 + SIGTERM)


class CnnError(Exception):
    """Base of every error `cnn` reports to a user: a one-line message and an optional hint."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, hint: str | None = None, details: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = details  # extra lines shown between message and hint (a spec and a caret)


class UsageError(CnnError):
    """Arguments that cannot work together or are out of range."""

    exit_code = ExitCode.USAGE


class BadInput(CnnError):
    """Malformed data: a spec string, an image, a model file, a config, an IDX file."""

    exit_code = ExitCode.BAD_INPUT


class SpecError(BadInput):
    """An architecture spec that does not parse; `position` is the 0-based column of the fault."""

    def __init__(self, message: str, spec: str = "", position: int | None = None, hint: str | None = None):
        details: tuple[str, ...] = ()
        if spec and position is not None:
            details = (spec, " " * position + "^")
        super().__init__(message, hint, details)
        self.spec = spec
        self.position = position


class ShapeError(BadInput):
    """A layer that cannot take its input: its output would have zero or fewer pixels, and so on."""


class NotFound(CnnError):
    exit_code = ExitCode.NOT_FOUND


class DownloadError(CnnError):
    exit_code = ExitCode.DOWNLOAD


class IntegrityError(DownloadError):
    """Bytes whose size or sha256 differ from the pinned ones."""


class PartialFailure(CnnError):
    exit_code = ExitCode.PARTIAL


class DeviceUnavailable(CnnError):
    exit_code = ExitCode.DEVICE


class TrainingDiverged(CnnError):
    exit_code = ExitCode.DIVERGED


class FileWriteError(CnnError):
    exit_code = ExitCode.IO


class Interrupted(CnnError):
    exit_code = ExitCode.INTERRUPTED


class Terminated(CnnError):
    exit_code = ExitCode.TERMINATED
