"""Hostile dataset files: IDX, CIFAR tarballs, gzip streams, prepared copies and the data directory's notes.

Each starts from a valid file and is damaged by hypothesis (tests/support/mutations.py). The property: it parses
to an array its header fully accounts for, or raises our own error; never another exception, and never
an allocation out of proportion to the bytes handed in (a header claiming 10^12 images).
"""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cnncli.core.data.cache import FORMAT, load_prepared, save_prepared
from cnncli.core.data.content import read_verified
from cnncli.core.data.fetch import _resumable_offset
from cnncli.core.data.idx import cifar_split, idx_pair, parse_idx
from cnncli.core.data.store import STAMPS, file_state
from cnncli.core.errors import BadInput, IntegrityError
from tests.support.datafiles import cifar_tarball, content_pin, idx_bytes, labels_bytes
from tests.support.mutations import JSON_VALUES, damaged_bytes, edited_tree, expect_clean_failure

FUZZ = settings(max_examples=400, deadline=5000, suppress_health_check=[HealthCheck.function_scoped_fixture])
IMAGES = idx_bytes((20, 7, 5))
LABELS = labels_bytes([i % 10 for i in range(20)])


def _tar_bytes() -> bytes:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path, _ = cifar_tarball(Path(folder) / "c.tar.gz", per_batch=2, test=2)
        return gzip.decompress(path.read_bytes())


CIFAR_TAR = _tar_bytes()


def _peak(run) -> tuple[object, int]:
    tracemalloc.start()
    try:
        with expect_clean_failure() as failed:
            result = run()
        return (None if failed else result), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@FUZZ
@given(images=damaged_bytes(IMAGES, focus=16), labels=damaged_bytes(LABELS, focus=8))
def test_damaged_idx_pairs_parse_consistently_or_are_bad_input(images, labels):
    result, peak = _peak(lambda: idx_pair(images, labels, ("images", "labels"), 10))
    assert peak < 4 * (len(images) + len(labels)) + (1 << 20)  # never in proportion to a header's claims
    if result is not None:
        array, label_array = result
        assert array.shape[0] == label_array.shape[0] and array.shape[1] == 1
        assert array.size == len(images) - 16 and int(label_array.max(initial=0)) < 10


@FUZZ
@given(dims=st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=3), tail=st.binary(max_size=64))
def test_idx_headers_claiming_anything_allocate_nothing_for_it(dims, tail):
    data = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in dims) + tail
    result, peak = _peak(lambda: parse_idx(data, "claims", 3))
    assert peak < 1 << 20
    if result is not None:
        assert list(result.shape) == dims


@settings(FUZZ, max_examples=300)
@given(tar=damaged_bytes(CIFAR_TAR, focus=1024), split=st.sampled_from(["train", "test"]))
def test_damaged_cifar_tarballs_are_bad_input(tar, split):
    result, peak = _peak(lambda: cifar_split(tar, split, "cifar-10-binary.tar.gz"))
    assert peak < 4 * len(tar) + (1 << 20)
    if result is not None:
        images, labels = result
        assert images.shape[1:] == (3, 32, 32) and len(images) == len(labels)


@settings(FUZZ, max_examples=200)
@given(raw=damaged_bytes(gzip.compress(IMAGES, mtime=0), focus=16))
def test_damaged_gzip_streams_are_integrity_errors(tmp_path, raw):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(raw)
    pin = content_pin(path.name, IMAGES)
    try:
        assert read_verified(path, pin) == IMAGES
    except IntegrityError as error:
        assert "\n" not in error.message


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("prepared") / "train.safetensors"
    images = torch.from_numpy(np.frombuffer(IMAGES[16:], np.uint8).reshape(20, 1, 7, 5).copy())
    save_prepared(path, images, torch.arange(20) % 10, "key", content="sha")
    return path.read_bytes()


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_damaged_prepared_copies_are_rebuilt_never_used(tmp_path, prepared, data):
    """A prepared copy is ours, but lives where anyone can write: damaged, it is ignored (rebuilt)."""
    path = tmp_path / "train.safetensors"
    path.write_bytes(data.draw(damaged_bytes(prepared, focus=200)))
    result = load_prepared(path, "key", 10)  # must not raise
    if result is not None:
        images, labels, _ = result
        assert images.dtype == torch.uint8 and images.ndim == 4 and len(images) == len(labels)
        assert int(labels.min()) >= 0 and int(labels.max()) < 10


def test_a_prepared_copy_with_labels_out_of_range_is_ignored(tmp_path):
    path = tmp_path / "train.safetensors"
    save_prepared(path, torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 10]), "key")
    assert load_prepared(path, "key", 10) is None
    save_prepared(path, torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 1, 9]), "key", content="[[")
    assert load_prepared(path, "key", 10) is not None
    meta = {"format": FORMAT, "key": "key", "json:content": "[" * 100_000}
    from safetensors.torch import save_file

    tensors = {"images": torch.zeros(1, 1, 1, 1, dtype=torch.uint8), "labels": torch.zeros(1, dtype=torch.int64)}
    save_file(tensors, path, meta)
    assert load_prepared(path, "key", 10) is None  # JSON nested past the parser's depth


@settings(FUZZ, max_examples=150)
@given(note=st.one_of(JSON_VALUES.map(json.dumps), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
def test_damaged_download_notes_and_stamps_are_ignored(tmp_path, note):
    """`.part.json` and `.verified.json` are hints: damaged, they cost a re-download or a re-hash, no crash."""
    (tmp_path / "x.part").write_bytes(b"partial")
    (tmp_path / "x.part.json").write_text(note)
    offset, validator = _resumable_offset(tmp_path / "x.part", tmp_path / "x.part.json", "http://h/x")
    assert offset in (0, 7) and (validator is None or isinstance(validator, str))
    (tmp_path / STAMPS).write_text(note)
    (tmp_path / "x").write_bytes(IMAGES)
    assert file_state(tmp_path, content_pin("x", IMAGES)).state == "verified"


@settings(FUZZ, max_examples=100)
@given(stamps=edited_tree({"x": {"stat": [1, 2], "digest": "sha256:00"}}))
def test_edited_stamps_never_vouch_for_a_wrong_file(tmp_path, stamps):
    (tmp_path / STAMPS).write_text(json.dumps(stamps))
    (tmp_path / "x").write_bytes(IMAGES + b"!")
    assert file_state(tmp_path, content_pin("x", IMAGES)).state == "corrupt"


def test_the_cifar_parser_reads_in_memory_and_never_extracts(tmp_path, monkeypatch):
    """A member named ../../escape is never written anywhere: the archive is only read."""
    buffer = io.BytesIO()
    import tarfile

    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        info = tarfile.TarInfo("../../escape")
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BadInput, match="has no cifar-10-batches-bin"):
        cifar_split(buffer.getvalue(), "test", "x")
    assert list(tmp_path.iterdir()) == [] and not (tmp_path.parent.parent / "escape").exists()
