"""Your own images: `folder:PATH` with one sub-folder per class.

With `train/` and `test/` sub-folders (each holding the class folders) those are the splits; otherwise
a seeded, stratified split puts `test_fraction` of every class in the test split. Every image becomes
the same uint8 layout as the built-in datasets: grey when every file is grey (else RGB), resized to
the most common size (or the one asked for). A folder that fits in memory is decoded once with Pillow
and kept as a prepared copy keyed by the files' names, sizes and times; a bigger one is streamed,
each image decoded when a DataLoader asks for it.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from cnncli.core.errors import BadInput, NotFound, UsageError
from cnncli.core.reporting import NULL_REPORTER, Reporter

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
TRAIN, TEST, UNSPLIT = 0, 1, 2  # which part of the folder a file came from
PIL_ERRORS = (OSError, ValueError, SyntaxError, UnidentifiedImageError, Image.DecompressionBombError)


@dataclass(frozen=True)
class FolderListing:
    root: Path
    classes: tuple[str, ...]
    files: tuple[Path, ...]
    labels: tuple[int, ...]
    parts: tuple[int, ...]

    @property
    def presplit(self) -> bool:
        return UNSPLIT not in self.parts

    def fingerprint(self, size: tuple[int, int] | None) -> str:
        """Names, sizes and times of every file, and the size asked for: what a prepared copy is keyed on."""
        hasher = hashlib.sha256(f"{self.root}\n{size}\n".encode())
        for path, label, part in zip(self.files, self.labels, self.parts, strict=True):
            stat = path.stat()
            hasher.update(
                f"{path.relative_to(self.root)}\t{stat.st_size}\t{stat.st_mtime_ns}\t{label}\t{part}\n".encode()
            )
        return hasher.hexdigest()


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".") and path.is_file()


def _class_folders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_of(class_folder: Path) -> list[Path]:
    return sorted(p for p in class_folder.rglob("*") if _is_image(p))


def scan(root: Path) -> FolderListing:
    """Every image under `root` with its class and part; BadInput when the layout is not one we read."""
    if not root.is_dir():
        raise NotFound(f"no folder {root}", "folder:PATH needs a folder with one sub-folder per class")
    presplit = (root / "train").is_dir() and (root / "test").is_dir()
    parts = [(root / "train", TRAIN), (root / "test", TEST)] if presplit else [(root, UNSPLIT)]
    classes = [p.name for p in _class_folders(parts[0][0])]
    if len(classes) < 2:
        raise BadInput(
            f"{parts[0][0]} has {len(classes)} class sub-folder(s); a classifier needs at least two",
            "one sub-folder per class: PATH/cat/1.png, PATH/dog/2.png (or PATH/train/cat/... and PATH/test/cat/...)",
        )
    files, labels, part_of = [], [], []
    for folder, part in parts:
        for class_folder in _class_folders(folder):
            if class_folder.name not in classes:
                raise BadInput(f"{class_folder} is a class that {parts[0][0]} does not have")
            images = _images_of(class_folder)
            if not images:
                suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
                raise BadInput(f"{class_folder} holds no images", f"image files end in {suffixes}")
            files += images
            labels += [classes.index(class_folder.name)] * len(images)
            part_of += [part] * len(images)
    return FolderListing(root, tuple(classes), tuple(files), tuple(labels), tuple(part_of))


def split_indices(listing: FolderListing, split: str, test_fraction: float, seed: int) -> np.ndarray:
    """The files of `split`: the folder's own split, or a seeded draw of `test_fraction` of each class."""
    if listing.presplit:
        return np.flatnonzero(np.array(listing.parts) == (TRAIN if split == "train" else TEST))
    if not 0 < test_fraction < 1:
        raise UsageError(f"test fraction {test_fraction} is not between 0 and 1", "e.g. 0.2 keeps 20% for testing")
    labels = np.array(listing.labels)
    rng = np.random.default_rng(seed)
    test = []
    for label in range(len(listing.classes)):
        members = np.flatnonzero(labels == label)
        # half up, at least one image on each side when the class has two
        count = min(len(members) - 1, max(1, int(len(members) * test_fraction + 0.5))) if len(members) > 1 else 0
        test.append(rng.permutation(members)[:count])
    chosen = np.zeros(len(labels), dtype=bool)
    chosen[np.concatenate(test)] = True
    return np.flatnonzero(chosen if split == "test" else ~chosen)


@dataclass(frozen=True)
class Geometry:
    channels: int
    height: int
    width: int

    def bytes_for(self, count: int) -> int:
        return count * self.channels * self.height * self.width


def _unreadable(failures: list[tuple[Path, str]]) -> BadInput:
    path, reason = failures[0]
    more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
    return BadInput(
        f"cannot read image {path}: {reason}{more}",
        "remove or repair the file(s), or move them out of the dataset folder",
        tuple(f"{p}: {r}" for p, r in failures[1:6]),
    )


def probe(listing: FolderListing, size: tuple[int, int] | None) -> Geometry:
    """Channels and size for the whole folder, from the image headers only (nothing is decoded)."""
    sizes, grey, failures = Counter(), True, []
    for path in listing.files:
        try:
            with Image.open(path) as image:
                sizes[(image.height, image.width)] += 1
                grey = grey and image.mode in GREY_MODES
        except PIL_ERRORS as exc:
            failures.append((path, str(exc) or type(exc).__name__))
    if failures:
        raise _unreadable(failures)
    height, width = size or sizes.most_common(1)[0][0]
    return Geometry(1 if grey else 3, height, width)


def decode(data: bytes | Path, geometry: Geometry) -> np.ndarray:
    """One image as C x H x W uint8: converted to grey or RGB, resized (bilinear) when its size differs."""
    with Image.open(io.BytesIO(data) if isinstance(data, bytes) else data) as image:
        image = image.convert("L" if geometry.channels == 1 else "RGB")
        if image.size != (geometry.width, geometry.height):
            image = image.resize((geometry.width, geometry.height), Image.Resampling.BILINEAR)
        array = np.asarray(image)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def decode_all(listing: FolderListing, geometry: Geometry, progress: Reporter = NULL_REPORTER):
    """Every image into one N x C x H x W uint8 array, and the sha256 of all the files' bytes."""
    images = np.empty((len(listing.files), geometry.channels, geometry.height, geometry.width), np.uint8)
    hasher, failures = hashlib.sha256(), []
    task = progress.start(f"decoding {listing.root.name}", total=len(listing.files), unit="img")
    for index, path in enumerate(listing.files):
        try:
            data = path.read_bytes()
            images[index] = decode(data, geometry)
        except PIL_ERRORS as exc:
            failures.append((path, str(exc) or type(exc).__name__))
            continue
        hasher.update(f"{path.relative_to(listing.root)}\t{hashlib.sha256(data).hexdigest()}\n".encode())
        progress.update(task, advance=1)
    progress.finish(task, f"{len(listing.files):,} images", ok=not failures)
    if failures:
        raise _unreadable(failures)
    return images, hasher.hexdigest()


class FolderImages(Dataset):
    """A streamed folder split: each item decoded from its file when asked; works with DataLoader workers."""

    def __init__(self, files: list[str], labels: torch.Tensor, geometry: Geometry) -> None:
        self.files, self.labels, self.geometry = files, labels, geometry

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        try:
            image = decode(Path(self.files[index]), self.geometry)
        except PIL_ERRORS as exc:
            raise BadInput(f"cannot read image {self.files[index]}: {exc}") from exc
        return torch.from_numpy(np.ascontiguousarray(image)), self.labels[index]


def memory_budget() -> int:
    """Half of the memory available now: what a decoded folder may take before it is streamed instead."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 // 2
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 2 << 30
