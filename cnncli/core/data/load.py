"""load_split: a dataset split as tensors, the entry point of `cnn train` and `cnn eval`.

    from cnncli.core.data import load_split

    split = load_split("mnist", "train")      # fetched and verified first when it is not there yet
    split.images                              # torch.uint8, N x C x H x W (here 60000 x 1 x 28 x 28)
    split.labels                              # torch.int64, N
    split.info                                # DatasetInfo: name, classes, channels, height, width,
                                              # mean, std, prepare, checksum
    split.dataset()                           # a torch Dataset of (image, label), for a DataLoader

    load_split(name_or_folder, split="train", data_dir=None, download=True, offline=False, mirrors=None,
               progress=NullReporter(), *, test_fraction=0.2, seed=0, image_size=None, memory_limit=None)

`name_or_folder` is a built-in name (mnist, fashion-mnist, kmnist, cifar10, mnist-sample) or
`folder:PATH`. `data_dir`: the data directory (default: $CNN_DATA_DIR, else the user cache folder).
A built-in dataset that is not there is downloaded first with the same checks and progress as
`cnn download`, unless `download=False` or `offline=True` (then NotFound); when every mirror fails, a
DownloadError lists what was tried and says how to use `cnn download --from`. `mirrors` replaces the
dataset's own base URLs (else $CNN_MIRRORS). The first load keeps a prepared copy (safetensors, keyed
by the data's checksum), so later loads are one read. Images stay uint8: scaling to [0, 1] and
normalising with info.mean/info.std is the caller's, on the device.

For a folder: `test_fraction` and `seed` make the stratified split when it has no train/ and test/,
`image_size` (N or (H, W)) overrides the most common size, `memory_limit` (bytes; default half the
available memory) decides between decoding into memory and streaming; a streamed split has
images=None and split.dataset() decodes on demand. Its info.mean/std come from its training split.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cnncli.core.data.acquire import AcquireRequest, acquire_dataset, failure
from cnncli.core.data.cache import load_prepared, save_prepared
from cnncli.core.data.catalog import (
    SPLITS,
    DataDir,
    DatasetInfo,
    DatasetSpec,
    dataset_spec,
    folder_path,
    resolve_data_dir,
)
from cnncli.core.data.content import mismatch, read_verified
from cnncli.core.data.folder import (
    FolderImages,
    Geometry,
    decode,
    decode_all,
    memory_budget,
    probe,
    scan,
    split_indices,
)
from cnncli.core.data.idx import cifar_split, idx_pair
from cnncli.core.data.split import Split, channel_stats
from cnncli.core.data.store import FileStatus, dataset_folder, file_state, locate
from cnncli.core.errors import NotFound, UsageError
from cnncli.core.reporting import NULL_REPORTER, Reporter
from cnncli.core.units import byte_size

STATS_SAMPLE = 1000  # images a streamed folder's mean and std are estimated from


def load_split(
    name_or_folder: str,
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    offline: bool = False,
    mirrors: Sequence[str] | None = None,
    progress: Reporter = NULL_REPORTER,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
    image_size: int | tuple[int, int] | None = None,
    memory_limit: int | None = None,
) -> Split:
    """One split of a built-in dataset or an image folder as tensors; see the module docstring."""
    if split not in SPLITS:
        raise UsageError(f"unknown split '{split}'", "the splits are train and test")
    where = resolve_data_dir(data_dir)
    root = folder_path(name_or_folder)
    if root is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else image_size
        return _load_folder(root.absolute(), split, where, test_fraction, seed, size, memory_limit, progress)
    spec = dataset_spec(name_or_folder)
    if spec.packaged:  # tiny and inside the package: read and verified every time, no prepared copy
        return _split_of(spec, split, *_read_split(spec, split, dataset_folder(spec, where.path)))
    cache = where.path / spec.name / f"{split}.safetensors"
    prepared = load_prepared(cache, spec.checksum, len(spec.classes))
    if prepared is not None and prepared[0].shape[1:] == (spec.channels, spec.height, spec.width):
        return _split_of(spec, split, prepared[0], prepared[1])
    _ensure_present(spec, split, where, download and not offline, offline, mirrors, progress)
    images, labels = _read_split(spec, split, dataset_folder(spec, where.path))
    save_prepared(cache, images, labels, spec.checksum)
    return _split_of(spec, split, images, labels)


def _split_of(spec: DatasetSpec, split: str, images: torch.Tensor, labels: torch.Tensor) -> Split:
    return Split(spec.info(), split, labels, images)


def _ensure_present(spec, split, where: DataDir, download, offline, mirrors, progress) -> None:
    """Every file the split needs, present and verified; fetched first when allowed."""
    folder = dataset_folder(spec, where.path)
    states = [file_state(folder, pin) for pin in spec.split_files(split)]
    if all(state.state == FileStatus.VERIFIED for state in states):
        return
    if not download:
        for state in states:
            if state.state == FileStatus.CORRUPT and state.path is not None:
                raise mismatch(state.path, state.pin, state.found or "not a valid gzip stream")
        why = " (offline: nothing is downloaded)" if offline else ""
        raise NotFound(
            f"{spec.name} is not in {where.describe()}{why}",
            f"run 'cnn download {spec.name}' (or with --from DIR for files you already have)",
        )
    request = AcquireRequest(where.path, tuple(mirrors) if mirrors else None)
    error = failure([acquire_dataset(spec, request, progress)], request, where.describe())
    if error is not None:
        raise error


def _read_split(spec: DatasetSpec, split: str, folder: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The split's files, verified as they are read, parsed into tensors (copies: the buffers are read-only)."""
    contents = []
    for pin in spec.split_files(split):
        path = locate(folder, pin)
        if path is None:
            raise NotFound(f"{pin.name} is not in {folder}", f"run 'cnn download {spec.name}'")
        contents.append(read_verified(path, pin))
    if spec.layout == "cifar":
        images, labels = cifar_split(contents[0], split, spec.files[0].name, len(spec.classes))
    else:
        names = tuple(pin.name for pin in spec.split_files(split))
        images, labels = idx_pair(contents[0], contents[1], names, len(spec.classes))
    return torch.from_numpy(images.copy()), torch.from_numpy(labels)


def _load_folder(root, split, where: DataDir, test_fraction, seed, size, memory_limit, progress) -> Split:
    listing = scan(root)
    indices = split_indices(listing, split, test_fraction, seed)
    train = indices if split == "train" else split_indices(listing, "train", test_fraction, seed)
    recipe = None if listing.presplit else (test_fraction, seed)
    fingerprint = listing.fingerprint(size)
    cache = where.path / "folders" / f"{fingerprint[:32]}.safetensors"
    prepared = load_prepared(cache, fingerprint, len(listing.classes))
    if prepared is not None and isinstance(prepared[2].get("content"), str) and len(prepared[1]) == len(listing.files):
        images, labels, extra = prepared
        content = extra["content"]
    else:
        geometry = probe(listing, size)
        need = geometry.bytes_for(len(listing.files))
        budget = memory_limit if memory_limit is not None else memory_budget()
        if need > budget:
            count = len(listing.files)
            progress.message(f"{count:,} images need {byte_size(need)}, over {byte_size(budget)}: streaming them")
            return _streamed(listing, split, indices, train, geometry, fingerprint, seed, recipe)
        progress.message(f"decoding {len(listing.files):,} images from {root} into memory ({byte_size(need)})")
        array, content = decode_all(listing, geometry, progress)
        images, labels = torch.from_numpy(array), torch.tensor(listing.labels, dtype=torch.int64)
        save_prepared(cache, images, labels, fingerprint, content=content)
    mean, std = channel_stats(images[torch.from_numpy(train)])
    info = _folder_info(listing, images.shape[1:], mean, std, content, recipe)
    chosen = torch.from_numpy(indices)
    return Split(info, split, labels[chosen], images[chosen])


def _folder_info(listing, shape, mean, std, content: str, recipe) -> DatasetInfo:
    """The folder's description; its checksum covers the bytes and, for a drawn split, how it was drawn."""
    checksum = content if recipe is None else hashlib.sha256(f"{content}\nsplit {recipe}".encode()).hexdigest()
    channels, height, width = (int(x) for x in shape)
    name = f"folder:{listing.root}"
    return DatasetInfo(name, listing.classes, channels, height, width, mean, std, "resize", checksum)


def _streamed(listing, split, indices, train, geometry: Geometry, fingerprint: str, seed: int, recipe) -> Split:
    """A split too big for memory: decoded one image at a time; mean and std estimated from a sample."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(train, min(len(train), STATS_SAMPLE), replace=False)
    stack = torch.from_numpy(np.stack([decode(listing.files[i], geometry) for i in sample]))
    mean, std = channel_stats(stack)
    shape = (geometry.channels, geometry.height, geometry.width)
    # reading every file up front is what streaming avoids: the checksum covers names, sizes and times
    info = _folder_info(listing, shape, mean, std, fingerprint, recipe)
    labels = torch.tensor(listing.labels, dtype=torch.int64)[torch.from_numpy(indices)]
    files = [str(listing.files[i]) for i in indices]
    return Split(info, split, labels, None, FolderImages(files, labels, geometry))
