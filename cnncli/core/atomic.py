"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Every write of weights, metadata, datasets and checkpoints goes through here: write a temporary file in
the same folder, flush and fsync it, os.replace it over the target, then fsync the folder so the rename
itself survives a power cut. A failure removes the temporary file and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from cnncli.core.errors import FileWriteError

TEMP_PREFIX = ".tmp-"  # temporary files are hidden and recognisable, so a crash's leftovers can be swept


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a folder; the rename is still atomic there
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error(path: Path, exc: OSError) -> FileWriteError:
    reason = {
        errno.ENOSPC: "the disk is full",
        errno.EACCES: "permission denied",
        errno.EROFS: "the file system is read-only",
        errno.EDQUOT: "the disk quota is exceeded",
    }.get(exc.errno or 0, exc.strerror or str(exc))
    return FileWriteError(f"cannot write {path}: {reason}", "nothing was changed: the previous file, if any, is intact")


def wrapped_os_error(exc: BaseException) -> OSError | None:
    """The OSError inside a library's own exception: Rust's I/O errors (safetensors) end in "(os error 28)"."""
    match = re.search(r"\(os error (\d+)\)", str(exc))
    if isinstance(exc, OSError) or match is None:
        return None
    code = int(match.group(1))
    return OSError(code, os.strerror(code))


@contextlib.contextmanager
def _temp_beside(target: Path) -> Iterator[Path]:
    """A temporary path in the target's folder, published over the target on a clean exit.

    The caller writes the temporary file; on any error it is removed and the target is left as it was.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX + target.name + ".", dir=target.parent)
        os.close(fd)
    except OSError as exc:
        raise write_error(target, exc) from exc
    temp = Path(temp_name)
    try:
        yield temp
        publish(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            temp.unlink()
        if isinstance(exc, OSError):
            raise write_error(target, exc) from exc
        wrapped = wrapped_os_error(exc)  # a full disk under safetensors' save_file
        if wrapped is not None:
            raise write_error(target, wrapped) from exc
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file beside `path`; on a clean exit it replaces `path`, on an error it vanishes."""
    with _temp_beside(Path(path)) as temp, open(temp, mode) as handle:
        yield handle


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[Path], None]) -> None:
    """For writers that want a path rather than a handle (safetensors' save_file): write(temp_path)."""
    with _temp_beside(Path(path)) as temp:
        write(temp)


def publish(temp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Make a finished temporary file the target (a download, once verified): fsync, rename, fsync the folder.

    For writers that must build their temporary file in several sittings (a resumable download), so
    cannot use atomic_open; the rename is the same atomic step.
    """
    temp, target = Path(temp), Path(path)
    try:
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except OSError as exc:
        raise write_error(target, exc) from exc
    _fsync_dir(target.parent)
