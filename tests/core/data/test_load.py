"""load_split on the built-in datasets: download on first use, verify, parse, keep a prepared copy."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from cnncli.core.data import load_split
from cnncli.core.data.acquire import AcquireRequest, acquire_dataset
from cnncli.core.data.catalog import CATALOG, DataFile
from cnncli.core.errors import DownloadError, IntegrityError, NotFound, UsageError
from cnncli.core.reporting import RecordingReporter
from tests.conftest import SHARED_DATASETS, require_shared
from tests.support.datafiles import cifar_tarball, idx_bytes, labels_bytes, write_gz
from tests.support.servers import DataServer

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory) -> Path:
    """A data directory with MNIST downloaded once from a local server (not to be changed by tests)."""
    require_shared(SHARED_DATASETS / "mnist")
    server = DataServer(SHARED_DATASETS)
    data_dir = tmp_path_factory.mktemp("mnist-data")
    try:
        outcome = acquire_dataset(CATALOG["mnist"], AcquireRequest(data_dir, (server.url("ok", "mnist/"),)))
    finally:
        server.close()
    assert outcome.ok
    return data_dir


def _copy(data_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(data_dir, tmp_path / "data"))


def test_a_first_load_downloads_verifies_and_prepares(shared_server, tmp_path):
    progress = RecordingReporter()
    split = load_split("mnist", "train", tmp_path, mirrors=[shared_server.url("ok", "mnist/")], progress=progress)
    assert split.images.shape == (60000, 1, 28, 28) and split.images.dtype == torch.uint8
    assert split.labels.dtype == torch.int64
    assert torch.bincount(split.labels).tolist() == MNIST_TRAIN_COUNTS  # shared/datasets/README.md
    assert [t.status.split(" from ")[0] for t in progress.tasks] == ["downloaded"] * 4
    assert (tmp_path / "mnist" / "train.safetensors").is_file()
    info = split.info
    assert (info.name, info.classes, info.channels, info.height, info.width) == (
        "mnist",
        CATALOG["mnist"].classes,
        1,
        28,
        28,
    )
    assert (info.mean, info.std, info.prepare) == ((0.1307,), (0.3081,), "mnist")
    assert info.checksum == CATALOG["mnist"].checksum


def test_the_test_split_and_the_prepared_copy(mnist_dir, tmp_path):
    data_dir = _copy(mnist_dir, tmp_path)
    first = load_split("mnist", "test", data_dir, offline=True)
    assert torch.bincount(first.labels).tolist() == MNIST_TEST_COUNTS
    for name in CATALOG["mnist"].files:  # the prepared copy is all a later load needs
        (data_dir / "mnist" / name.name).unlink()
    again = load_split("mnist", "test", data_dir, offline=True)
    assert torch.equal(again.images, first.images) and torch.equal(again.labels, first.labels)
    assert len(again.dataset()) == 10000 and again.dataset()[3][0].shape == (1, 28, 28)


def test_a_damaged_prepared_copy_is_rebuilt_from_the_source(mnist_dir, tmp_path):
    data_dir = _copy(mnist_dir, tmp_path)
    reference = load_split("mnist", "test", data_dir, offline=True)
    prepared = data_dir / "mnist" / "test.safetensors"
    prepared.write_bytes(prepared.read_bytes()[:1000])
    assert torch.equal(load_split("mnist", "test", data_dir, offline=True).images, reference.images)
    assert prepared.stat().st_size > 1000


def test_a_source_file_changed_since_it_verified_is_refused(mnist_dir, tmp_path):
    data_dir = _copy(mnist_dir, tmp_path)
    labels = data_dir / "mnist" / "t10k-labels-idx1-ubyte.gz"
    write_gz(labels, labels_bytes([1] * 10000))
    with pytest.raises(IntegrityError) as caught:
        load_split("mnist", "test", data_dir, offline=True)
    assert "t10k-labels-idx1-ubyte.gz does not verify" in caught.value.message
    assert CATALOG["mnist"].files[3].digest in caught.value.message


def test_offline_without_the_data_says_where_it_looked(tmp_path):
    with pytest.raises(NotFound) as caught:
        load_split("mnist", "train", tmp_path / "empty", offline=True)
    assert str(tmp_path / "empty") in caught.value.message and "offline" in caught.value.message
    assert "cnn download mnist" in caught.value.hint


def test_when_every_mirror_fails_the_error_lists_them_and_suggests_from(shared_server, tmp_path):
    mirrors = [shared_server.url("missing", "mnist/"), shared_server.url("missing", "again/")]
    with pytest.raises(DownloadError) as caught:
        load_split("mnist", "test", tmp_path, mirrors=mirrors)
    assert "--from DIR" in caught.value.hint and str(tmp_path) in caught.value.hint
    tried = "\n".join(caught.value.details)
    assert mirrors[0] + "t10k-images-idx3-ubyte.gz: HTTP 404" in tried and mirrors[1] in tried
    assert not (tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz").exists()


def test_mnist_sample_ships_inside_cnn(tmp_path):
    train = load_split("mnist-sample", "train", tmp_path, offline=True)
    test = load_split("mnist-sample", "test", tmp_path, offline=True)
    assert train.images.shape == (2000, 1, 28, 28) and test.images.shape == (500, 1, 28, 28)
    assert torch.bincount(train.labels).tolist() == [200] * 10
    assert torch.bincount(test.labels).tolist() == [50] * 10
    assert train.info.prepare == "mnist" and train.info.mean == (0.1307,)
    assert not tmp_path.exists() or not any(tmp_path.iterdir())  # nothing written anywhere


def test_unknown_names_and_splits():
    with pytest.raises(NotFound, match="unknown dataset 'mnits'"):
        load_split("mnits")
    with pytest.raises(UsageError, match="unknown split 'validation'"):
        load_split("mnist", "validation")


def _patched(monkeypatch, name: str, **changes) -> None:
    monkeypatch.setitem(CATALOG, name, dataclasses.replace(CATALOG[name], **changes))


def test_cifar10_from_its_binary_tarball_end_to_end(serve, tmp_path, monkeypatch):
    www = tmp_path / "www"
    www.mkdir()
    tarball, labels = cifar_tarball(www / "cifar-10-binary.tar.gz", per_batch=3, test=2)
    md5 = hashlib.md5(tarball.read_bytes()).hexdigest()  # our tarball stands in for the published one
    _patched(monkeypatch, "cifar10", files=(DataFile(tarball.name, f"md5:{md5}", tarball.stat().st_size, "file"),))
    server = serve(www)
    split = load_split("cifar10", "train", tmp_path / "data", mirrors=[server.url("ok")])
    assert split.images.shape == (15, 3, 32, 32) and split.labels.tolist() == labels[:15]
    assert (split.images[0, 0] == 1).all() and (split.images[0, 2] == 3).all()
    assert split.info.channels == 3 and split.info.prepare == "resize" and split.info.classes[0] == "airplane"
    assert load_split("cifar10", "test", tmp_path / "data", offline=True).labels.tolist() == labels[15:]


def test_kmnist_pins_the_published_gz_files(serve, tmp_path, monkeypatch):
    www = tmp_path / "www"
    www.mkdir()
    contents = [idx_bytes((6, 28, 28)), labels_bytes([0, 1, 2, 3, 4, 9]), idx_bytes((2, 28, 28)), labels_bytes([5, 6])]
    pins = []
    for pin, data in zip(CATALOG["kmnist"].files, contents, strict=True):
        gz = write_gz(www / pin.name, data)
        pins.append(DataFile(pin.name, "md5:" + hashlib.md5(gz.read_bytes()).hexdigest(), None, "file"))
    _patched(monkeypatch, "kmnist", files=tuple(pins))
    split = load_split("kmnist", "train", tmp_path / "data", mirrors=[serve(www).url("ok")])
    assert split.labels.tolist() == [0, 1, 2, 3, 4, 9] and split.info.classes[1] == "ki"
    assert split.images[2, 0].flatten().tolist() == list(contents[0][16 + 2 * 784 : 16 + 3 * 784])
    assert load_split("kmnist", "test", tmp_path / "data", offline=True).labels.tolist() == [5, 6]
    # a pin on the published .gz cannot vouch for a decompressed copy, so none is accepted
    raw = tmp_path / "raw"
    raw.mkdir()
    for pin in pins:
        (raw / pin.raw_name).write_bytes(gzip.decompress((www / pin.name).read_bytes()))
    outcome = acquire_dataset(CATALOG["kmnist"], AcquireRequest(tmp_path / "other", source=raw))
    assert [f.action for f in outcome.files] == ["failed"] * 4
    assert outcome.files[0].error == f"not in {raw} (as train-images-idx3-ubyte.gz)"
