"""Small generated data files for the dataset tests: IDX files, CIFAR-binary tarballs, image folders."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
from pathlib import Path

from cnncli.core.data.catalog import DataFile


def idx_bytes(dims: tuple[int, ...], payload: bytes | None = None, seed: int = 0) -> bytes:
    """An IDX file of unsigned bytes: the header for `dims`, then `payload` (random bytes by default)."""
    count = 1
    for d in dims:
        count *= d
    if payload is None:
        payload = random.Random(seed).randbytes(count)
    header = bytes([0, 0, 0x08, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
    return header + payload


def labels_bytes(labels: list[int]) -> bytes:
    return idx_bytes((len(labels),), bytes(labels))


def write_gz(path: Path, data: bytes) -> Path:
    path.write_bytes(gzip.compress(data, mtime=0))
    return path


def content_pin(name: str, data: bytes) -> DataFile:
    """The pin of a file whose decompressed content is `data`."""
    return DataFile(name, "sha256:" + hashlib.sha256(data).hexdigest(), len(data))


def cifar_tarball(path: Path, per_batch: int = 3, test: int = 2) -> tuple[Path, list[int]]:
    """A CIFAR-10 binary tarball: records whose red, green and blue planes hold 1, 2, 3 (+ the index)."""
    labels = []

    def batch(count: int, first: int) -> bytes:
        records = []
        for index in range(first, first + count):
            label = index % 10
            labels.append(label)
            planes = bytes([(1 + index) % 256]) * 1024 + bytes([(2 + index) % 256]) * 1024
            records.append(bytes([label]) + planes + bytes([(3 + index) % 256]) * 1024)
        return b"".join(records)

    members = {f"data_batch_{i}.bin": batch(per_batch, (i - 1) * per_batch) for i in range(1, 6)}
    members["test_batch.bin"] = batch(test, 5 * per_batch)
    members["batches.meta.txt"] = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-bin/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path, labels


def image_folder(root: Path, classes: dict[str, int], size=(12, 10), mode: str = "L") -> Path:
    """PNG files written with Pillow: `classes` maps a class name to its number of images.

    Every third image is 2 pixels taller and 4 wider (it must be resized); `mode` "mixed" makes every
    fourth image RGB and the others grey.
    """
    from PIL import Image

    rng = random.Random(1)
    for name, count in classes.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            height, width = (size[0] + 2, size[1] + 4) if index % 3 == 2 else size
            image_mode = mode if mode != "mixed" else ("RGB" if index % 4 == 3 else "L")
            pixels = rng.randbytes(width * height * len(image_mode))
            Image.frombytes(image_mode, (width, height), pixels).save(folder / f"{index:03d}.png")
    return root


def digit_folder(root: Path, digits: str = "0123", per_class: int = 24, seed: int = 0) -> Path:
    """A folder dataset of typeset digits, white on black at 28 x 28 like MNIST's, one sub-folder per digit:
    each in Pillow's own face at a random size, place and slant, so a network must learn the shapes."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    for digit in digits:
        folder = root / digit
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            image = Image.new("L", (28, 28), 0)
            font = ImageFont.load_default(rng.randint(16, 24))
            where = (14 + rng.randint(-3, 3), 14 + rng.randint(-3, 3))
            ImageDraw.Draw(image).text(where, digit, fill=255, font=font, anchor="mm", stroke_width=rng.randint(0, 1))
            image.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR).save(folder / f"{index:03d}.png")
    return root
