"""IDX files (MNIST's format) and CIFAR-10's binary records, parsed with numpy: no per-image objects.

Both check the structure before they trust a single size from a header: a file whose header disagrees
with its length (a truncated file, a header claiming 10^12 images) is BadInput before anything is
allocated for it.
"""

from __future__ import annotations

import io
import math
import struct
import tarfile

import numpy as np

from cnncli.core.errors import BadInput

IDX_UBYTE = 0x08  # the only element type image datasets use
CIFAR_RECORD = 1 + 3 * 32 * 32  # a label byte, then the red, green and blue planes
CIFAR_FOLDER = "cifar-10-batches-bin"
CIFAR_MEMBERS = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}


def parse_idx(data: bytes, source: str, ndim: int) -> np.ndarray:
    """An IDX file's array of unsigned bytes (read-only view of `data`), shape as its header says."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise BadInput(f"{source} is not an IDX file (bad magic number)", "expected MNIST's IDX format")
    if data[2] != IDX_UBYTE:
        raise BadInput(f"{source} holds IDX element type 0x{data[2]:02X}; only unsigned bytes (0x08) are supported")
    if data[3] != ndim:
        kind = "images (3 dimensions)" if ndim == 3 else "labels (1 dimension)"
        raise BadInput(f"{source} has {data[3]} dimensions; expected {kind}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise BadInput(f"{source} is cut short inside its header")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    claimed, held = math.prod(dims), len(data) - header
    if claimed != held:
        shape = " x ".join(f"{d:,}" for d in dims)
        raise BadInput(
            f"{source}: its header claims {shape} = {claimed:,} bytes of data, but the file holds {held:,}",
            "the file is truncated or damaged",
        )
    return np.frombuffer(data, np.uint8, count=claimed, offset=header).reshape(dims)


def check_labels(labels: np.ndarray, count: int, classes: int, source: str) -> None:
    if len(labels) != count:
        raise BadInput(f"{source} has {len(labels):,} labels for {count:,} images")
    if len(labels) and int(labels.max()) >= classes:
        raise BadInput(f"{source} has label {int(labels.max())}, but the dataset has {classes} classes")


def idx_pair(images: bytes, labels: bytes, names: tuple[str, str], classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Images as N x 1 x H x W uint8 and labels as N int64, from the two IDX files of a split."""
    image_array = parse_idx(images, names[0], 3)
    label_array = parse_idx(labels, names[1], 1)
    check_labels(label_array, len(image_array), classes, names[1])
    return image_array[:, None, :, :], label_array.astype(np.int64)


def cifar_split(tar: bytes, split: str, source: str, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Images N x 3 x 32 x 32 and labels from the binary CIFAR-10 tarball (read in memory, never extracted)."""
    chunks = []
    try:
        with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
            for name in CIFAR_MEMBERS[split]:
                chunks.append(_cifar_member(archive, f"{CIFAR_FOLDER}/{name}", source))
    except tarfile.TarError as exc:
        raise BadInput(f"{source} is not a readable tar archive: {exc}") from exc
    records = np.concatenate(chunks) if len(chunks) > 1 else chunks[0]
    labels = records[:, 0].astype(np.int64)
    check_labels(labels, len(records), classes, source)
    # each record's 3072 pixel bytes are already channel-major: red plane, green plane, blue plane
    return records[:, 1:].reshape(-1, 3, 32, 32), labels


def _cifar_member(archive: tarfile.TarFile, name: str, source: str) -> np.ndarray:
    try:
        member = archive.getmember(name)
    except KeyError:
        raise BadInput(f"{source} has no {name}", "expected the binary version, cifar-10-binary.tar.gz") from None
    if not member.isfile() or member.size % CIFAR_RECORD:
        raise BadInput(f"{source}: {name} is not a whole number of {CIFAR_RECORD}-byte records")
    handle = archive.extractfile(member)
    data = handle.read() if handle else b""
    if len(data) != member.size:
        raise BadInput(f"{source}: {name} is cut short")
    return np.frombuffer(data, np.uint8).reshape(-1, CIFAR_RECORD)
