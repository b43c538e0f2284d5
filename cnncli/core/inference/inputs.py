"""What `cnn predict` was pointed at, as a list of image sources: files, folders, globs and stdin.

A path that exists is taken as it is (a file named `a[1].png` is that file, not a glob); otherwise a
pattern with *, ? or [ is expanded here, since a quoted glob reaches us unexpanded (and `**` matches
folders at any depth). A folder gives the image files in it, by suffix, sorted; with `recursive`, in
its sub-folders too. A name that matches nothing becomes a failed input of its own, reported with the
others, rather than stopping the batch.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cnncli.core.errors import UsageError
from cnncli.core.inference.images import ImageSource

STDIN = "-"
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"})
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class MissingInput:
    """A name on the command line that is no file, folder or matching pattern."""

    name: str
    reason: str


Input = ImageSource | MissingInput


def expand_inputs(names: Iterable[str], recursive: bool = False, stdin: bytes | None = None) -> list[Input]:
    """Every image source the names stand for, in the order given; `-` is `stdin` (read by the caller)."""
    names = list(names)
    if not names:
        raise UsageError("name the images to predict", "files, folders, globs, or - for one image on stdin")
    if names.count(STDIN) > 1:
        raise UsageError("- (standard input) can be given once")
    found: list[Input] = []
    for name in names:
        found.extend(_expand(name, recursive, stdin))
    return found


def _expand(name: str, recursive: bool, stdin: bytes | None) -> Iterator[Input]:
    if name == STDIN:
        yield ImageSource(STDIN, data=stdin if stdin is not None else b"")
        return
    if not name.strip():  # Path("") is the current folder: an empty name must not mean "everything here"
        yield MissingInput(name, "an empty name")
        return
    path = Path(name).expanduser()
    if path.is_dir():
        yield from _folder(path, recursive)
    elif path.exists():
        yield ImageSource(name, path=path)
    elif _GLOB_CHARACTERS & set(name):
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches:
            yield MissingInput(name, "no file matches this pattern")
        for match in matches:
            if Path(match).is_dir():
                yield from _folder(Path(match), recursive)
            else:
                yield ImageSource(match, path=Path(match))
    else:
        yield MissingInput(name, "no such file or folder")


def _folder(folder: Path, recursive: bool) -> Iterator[Input]:
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    images = sorted(
        path
        for path in candidates
        if path.suffix.lower() in IMAGE_SUFFIXES and not _hidden(path.relative_to(folder)) and path.is_file()
    )
    if not images:
        where = "in it or its sub-folders" if recursive else "in it (--recursive looks in sub-folders)"
        yield MissingInput(str(folder), f"a folder with no image files {where}")
    for path in images:
        yield ImageSource(str(path), path=path)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)
