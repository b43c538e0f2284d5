"""IDX and CIFAR-binary parsing: right shapes and layouts, and malformed files refused before allocation."""

from __future__ import annotations

import gzip
import io
import tarfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnncli.core.data.idx import cifar_split, idx_pair, parse_idx
from cnncli.core.errors import BadInput
from tests.support.datafiles import cifar_tarball, idx_bytes, labels_bytes


def test_idx_images_and_labels_become_n_c_h_w_and_int64():
    images, labels = idx_pair(idx_bytes((4, 3, 2)), labels_bytes([0, 1, 2, 9]), ("i", "l"), 10)
    assert images.shape == (4, 1, 3, 2) and images.dtype == np.uint8
    assert labels.tolist() == [0, 1, 2, 9] and labels.dtype == np.int64
    assert images[1, 0].tobytes() == idx_bytes((4, 3, 2))[16 + 6 : 16 + 12]  # row-major, image after image


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x08\x03\x00\x00" + bytes(20), "bad magic number"),
        (b"\x00", "bad magic number"),
        (bytes([0, 0, 0x0D, 3]) + bytes(12), "element type 0x0D"),
        (bytes([0, 0, 8, 1]) + bytes(8), "has 1 dimensions; expected images"),
        (bytes([0, 0, 8, 3, 0, 0]), "cut short inside its header"),
        (idx_bytes((4, 3, 2))[:-1], "claims 4 x 3 x 2 = 24 bytes of data, but the file holds 23"),
        (idx_bytes((4, 3, 2)) + b"\x00", "but the file holds 25"),
    ],
)
def test_malformed_idx_is_bad_input(data, message):
    with pytest.raises(BadInput) as caught:
        parse_idx(data, "x-idx3-ubyte", 3)
    assert message in caught.value.message


def test_a_header_claiming_a_trillion_images_allocates_nothing():
    header = bytes([0, 0, 8, 3]) + (10**12 % 2**32).to_bytes(4, "big") + (1 << 16).to_bytes(4, "big") * 2
    tracemalloc.start()
    with pytest.raises(BadInput, match="claims"):
        parse_idx(header + bytes(784), "huge", 3)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20


def test_labels_must_match_the_images_and_the_classes():
    with pytest.raises(BadInput, match="3 labels for 4 images"):
        idx_pair(idx_bytes((4, 2, 2)), labels_bytes([0, 1, 2]), ("i", "l"), 10)
    with pytest.raises(BadInput, match="label 10, but the dataset has 10 classes"):
        idx_pair(idx_bytes((2, 2, 2)), labels_bytes([0, 10]), ("i", "l"), 10)


def test_cifar_records_become_rgb_planes(tmp_path):
    path, labels = cifar_tarball(tmp_path / "c.tar.gz", per_batch=3, test=2)
    tar = gzip.decompress(path.read_bytes())
    images, train_labels = cifar_split(tar, "train", "c.tar.gz")
    assert images.shape == (15, 3, 32, 32) and images.dtype == np.uint8
    assert train_labels.tolist() == labels[:15]
    assert (images[4, 0] == 5).all() and (images[4, 1] == 6).all() and (images[4, 2] == 7).all()
    test_images, test_labels = cifar_split(tar, "test", "c.tar.gz")
    assert test_images.shape == (2, 3, 32, 32) and test_labels.tolist() == labels[15:]


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_cifar_refuses_the_python_version_and_broken_records():
    with pytest.raises(BadInput, match=r"has no cifar-10-batches-bin/test_batch\.bin"):
        cifar_split(_tar({"cifar-10-batches-py/test_batch": b"pickle"}), "test", "x")
    with pytest.raises(BadInput, match="whole number of 3073-byte records"):
        cifar_split(_tar({"cifar-10-batches-bin/test_batch.bin": bytes(3072)}), "test", "x")
    with pytest.raises(BadInput, match="not a readable tar archive"):
        cifar_split(b"not a tar at all" * 100, "test", "x")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64), st.integers(1, 3))
def test_any_bytes_parse_or_are_bad_input(data, ndim):
    """Whatever a file holds, the parser returns an array its header fully accounts for, or BadInput."""
    try:
        array = parse_idx(data, "fuzz", ndim)
    except BadInput:
        return
    assert array.ndim == ndim and array.size == len(data) - 4 - 4 * ndim
