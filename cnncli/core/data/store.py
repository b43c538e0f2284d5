"""The data directory: where each dataset's files live, and whether they are present and verified.

Layout: `DATA_DIR/NAME/` holds the dataset's files as fetched (`train-images-idx3-ubyte.gz`, or the raw
`train-images-idx3-ubyte` when a user imported that), their partial downloads (`*.part`), the prepared
copies (`train.safetensors`, `test.safetensors`) and `.verified.json`, which remembers the digest of
each verified file with its size and mtime so that listing does not hash 50 MB every time.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from cnncli.core.atomic import atomic_write_text
from cnncli.core.data.catalog import CATALOG, SPLITS, DataFile, DatasetSpec
from cnncli.core.data.content import digest_of
from cnncli.core.data.fetch import PART_SUFFIX
from cnncli.core.errors import CnnError
from cnncli.core.safe_parse import loads_json

STAMPS = ".verified.json"
PACKAGE_DATA = "resources"


class FileStatus(StrEnum):
    VERIFIED = "verified"
    CORRUPT = "corrupt"  # present, does not verify
    PARTIAL = "partial"  # a .part only: a download that stopped
    MISSING = "missing"


class DatasetState(StrEnum):
    """What `cnn download --list` says of a dataset as a whole."""

    BUILT_IN = "built-in"  # ships inside cnn and verifies
    VERIFIED = "verified"
    CORRUPT = "corrupt"  # a file does not verify
    MISSING = "missing"
    INCOMPLETE = "incomplete"  # some files, not all


@dataclass(frozen=True)
class FileState:
    pin: DataFile
    path: Path | None  # where it is, when it is
    state: FileStatus
    found: str | None = None  # its digest, when present


@dataclass(frozen=True)
class DatasetStatus:
    spec: DatasetSpec
    folder: Path
    files: tuple[FileState, ...]
    prepared: tuple[str, ...]  # the splits with a prepared copy

    @property
    def status(self) -> DatasetState:
        states = {f.state for f in self.files}
        if self.spec.packaged and states == {FileStatus.VERIFIED}:
            return DatasetState.BUILT_IN
        if states == {FileStatus.VERIFIED}:
            return DatasetState.VERIFIED
        if FileStatus.CORRUPT in states:
            return DatasetState.CORRUPT
        return DatasetState.MISSING if states <= {FileStatus.MISSING} else DatasetState.INCOMPLETE

    @property
    def verified(self) -> bool:
        return all(f.state == FileStatus.VERIFIED for f in self.files)


def dataset_folder(spec: DatasetSpec, data_dir: Path) -> Path:
    """Where a dataset's files are: inside the package for mnist-sample, in the data directory otherwise."""
    if spec.packaged:
        return Path(str(resources.files("cnncli") / PACKAGE_DATA / spec.name))
    return data_dir / spec.name


def locate(folder: Path, pin: DataFile) -> Path | None:
    """The file as fetched, or its decompressed twin where the pin is on the content."""
    names = (pin.name, pin.raw_name) if pin.pin_of == "content" else (pin.name,)
    for name in names:
        if (folder / name).is_file():
            return folder / name
    return None


def _stamps(folder: Path) -> dict:
    """The remembered digests; a damaged or foreign file is as good as none (the files are hashed again)."""
    try:
        stamps = loads_json((folder / STAMPS).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in stamps.items() if isinstance(v, dict)} if isinstance(stamps, dict) else {}


def _stat_key(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def record_verified(folder: Path, path: Path, digest: str) -> None:
    """Remember that `path` verified, keyed by its size and mtime (a changed file is hashed again)."""
    stamps = _stamps(folder)
    stamps[path.name] = {"stat": _stat_key(path), "digest": digest}
    with contextlib.suppress(CnnError):  # a read-only data directory only costs a re-hash next time
        atomic_write_text(folder / STAMPS, json.dumps(stamps, indent=1, sort_keys=True))


def file_state(folder: Path, pin: DataFile, stamps: dict | None = None, remember: bool = True) -> FileState:
    """Whether one file is there and verifies: from the stamp when its size and mtime still match.

    `remember`: stamp a file that verified (not inside the installed package, which may be read-only).
    """
    path = locate(folder, pin)
    if path is None:
        partial = (folder / (pin.name + PART_SUFFIX)).is_file()
        return FileState(pin, None, FileStatus.PARTIAL if partial else FileStatus.MISSING)
    stamp = (stamps if stamps is not None else _stamps(folder)).get(path.name, {})
    if stamp.get("stat") == _stat_key(path) and stamp.get("digest") == pin.digest:
        return FileState(pin, path, FileStatus.VERIFIED, pin.digest)
    try:
        found, size = digest_of(path, pin)
    except CnnError:  # not even a valid gzip stream
        return FileState(pin, path, FileStatus.CORRUPT, None)
    if not pin.matches(found, size):
        return FileState(pin, path, FileStatus.CORRUPT, found)
    if remember:
        record_verified(folder, path, found)
    return FileState(pin, path, FileStatus.VERIFIED, found)


def inspect_dataset(spec: DatasetSpec, data_dir: Path) -> DatasetStatus:
    folder = dataset_folder(spec, data_dir)
    stamps = _stamps(folder)
    files = tuple(file_state(folder, pin, stamps, remember=not spec.packaged) for pin in spec.files)
    prepared = tuple(split for split in SPLITS if (data_dir / spec.name / f"{split}.safetensors").is_file())
    return DatasetStatus(spec, folder, files, prepared)


def survey(data_dir: Path) -> tuple[DatasetStatus, ...]:
    """Every built-in dataset with where it lives and whether it is present and verified."""
    return tuple(inspect_dataset(spec, data_dir) for spec in CATALOG.values())
