"""A built-in dataset's split as numpy arrays, straight from its verified files: no torch.

The one parser of the stored formats (idx.py) behind both paths: load_split wraps these arrays in
tensors for training and `cnn eval`; the ONNX path of `cnn eval` and the export's parity check use
them as they are. No prepared copy is read or written here (that cache is safetensors, via torch);
parsing MNIST's test split from its gzip files takes about 0.1 s.

    images, labels = read_split_arrays(spec, "test", folder)   # uint8 N x C x H x W, int64 N
    ensure_present(spec, "test", where, download=False, offline=True, mirrors=None, progress=...)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cnncli.core.data.acquire import AcquireRequest, acquire_dataset, failure
from cnncli.core.data.catalog import DataDir, DatasetInfo, DatasetSpec, dataset_spec, folder_path, resolve_data_dir
from cnncli.core.data.content import mismatch, read_verified
from cnncli.core.data.idx import cifar_split, idx_pair
from cnncli.core.data.store import FileStatus, dataset_folder, file_state, locate
from cnncli.core.errors import NotFound, UsageError
from cnncli.core.reporting import NULL_REPORTER, Reporter

if TYPE_CHECKING:
    import numpy as np


def read_split_arrays(spec: DatasetSpec, split: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The split's files, verified as they are read, parsed (copies: the parsed buffers are read-only)."""
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
    return images.copy(), labels


def ensure_present(spec, split, where: DataDir, download, offline, mirrors, progress) -> None:
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


def load_split_arrays(
    name: str,
    split: str,
    data_dir=None,
    download: bool = True,
    offline: bool = False,
    mirrors=None,
    progress: Reporter = NULL_REPORTER,
) -> tuple[DatasetInfo, np.ndarray, np.ndarray]:
    """A built-in dataset's split as arrays, fetched first when allowed (load_split's rules, no cache).
    Image folders are decoded with torch (folder.py): UsageError here."""
    if folder_path(name) is not None:
        raise UsageError(
            f"{name}: an image folder is read through torch, not on the ONNX path",
            "evaluate the .safetensors model on a folder",
        )
    spec = dataset_spec(name)
    where = resolve_data_dir(data_dir)
    if not spec.packaged:
        ensure_present(spec, split, where, download and not offline, offline, mirrors, progress)
    images, labels = read_split_arrays(spec, split, dataset_folder(spec, where.path))
    return spec.info(), images, labels
