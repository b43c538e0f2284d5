"""A data file's bytes and whether they match their pin.

A pin on the "content" covers the decompressed bytes, so `x.gz` and `x` verify alike whatever the gzip
framing; a pin on the "file" covers the bytes exactly as published (an archive's md5). Nothing reads a
file's data without checking it here first.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

from cnncli.core.data.catalog import DataFile
from cnncli.core.errors import IntegrityError

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def _short(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:16]}…" if len(hexdigest) > 16 else digest


def mismatch_detail(pin: DataFile, found: str, size: int | None = None) -> str:
    """'expected sha256:..., found sha256:...', with the sizes when they differ."""
    detail = f"expected {pin.digest}, found {found}"
    if pin.size is not None and size is not None and size != pin.size:
        unpacked = " decompressed" if pin.pin_of == "content" else ""
        detail += f" ({size:,} bytes{unpacked}, expected {pin.size:,})"
    return detail


def mismatch(path: Path, pin: DataFile, found: str, size: int | None = None) -> IntegrityError:
    """The error for bytes that are not the pinned ones: the file, the expected and the found digest."""
    return IntegrityError(
        f"{path.name.removesuffix('.part')} does not verify: {mismatch_detail(pin, found, size)}",
        "the file is damaged or is not the published one; delete it and download it again",
        (f"file: {path}",),
    )


def _content_stream(path: Path, pin: DataFile):
    return gzip.open(path, "rb") if pin.pin_of == "content" and is_gzip(path) else open(path, "rb")


def digest_of(path: Path, pin: DataFile) -> tuple[str, int]:
    """The digest of what the pin covers, in the pin's algorithm, and how many bytes that was."""
    hasher = hashlib.new(pin.algorithm)
    size = 0
    try:
        with _content_stream(path, pin) as stream:
            while chunk := stream.read(CHUNK):
                hasher.update(chunk)
                size += len(chunk)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IntegrityError(
            f"{path.name.removesuffix('.part')} is not a valid gzip stream: {exc}",
            "the file is damaged; fetch it again",
        ) from exc
    return f"{pin.algorithm}:{hasher.hexdigest()}", size


def verify(path: Path, pin: DataFile) -> str:
    """Check `path` against its pin; returns the digest, raises IntegrityError naming both digests."""
    found, size = digest_of(path, pin)
    if not pin.matches(found, size):
        raise mismatch(path, pin, found, size)
    return found


def read_verified(path: Path, pin: DataFile) -> bytes:
    """The file's data (decompressed when gzipped), verified in the same pass that reads it."""
    raw = path.read_bytes()
    try:
        data = gzip.decompress(raw) if raw[:2] == GZIP_MAGIC else raw
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise IntegrityError(
            f"{path.name} is not a valid gzip stream: {exc}", "the file is damaged; delete it and download it again"
        ) from exc
    covered = data if pin.pin_of == "content" else raw
    found = f"{pin.algorithm}:{hashlib.new(pin.algorithm, covered).hexdigest()}"
    if not pin.matches(found, len(covered)):
        raise mismatch(path, pin, found, len(covered))
    return data
