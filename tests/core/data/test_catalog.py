"""The catalog of built-in datasets, the data directory and the mirror settings."""

from __future__ import annotations

import platformdirs
import pytest

from cnncli.core.data.catalog import (
    CATALOG,
    PREPARE_KINDS,
    dataset_spec,
    folder_path,
    parse_mirror_list,
    resolve_data_dir,
    resolve_mirrors,
)
from cnncli.core.errors import NotFound, UsageError


def test_what_each_dataset_knows():
    assert CATALOG["mnist"].classes == tuple("0123456789") and CATALOG["mnist-sample"].classes == tuple("0123456789")
    assert CATALOG["fashion-mnist"].classes[0] == "T-shirt/top" and CATALOG["fashion-mnist"].classes[-1] == "Ankle boot"
    assert CATALOG["kmnist"].classes == ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    assert CATALOG["cifar10"].classes[0] == "airplane" and CATALOG["cifar10"].classes[-1] == "truck"
    assert (CATALOG["mnist"].mean, CATALOG["mnist"].std) == ((0.1307,), (0.3081,))
    assert (CATALOG["fashion-mnist"].mean, CATALOG["fashion-mnist"].std) == ((0.2860,), (0.3530,))
    assert {name: spec.prepare for name, spec in CATALOG.items()} == {
        "mnist": "mnist",
        "fashion-mnist": "fashion",
        "kmnist": "mnist",
        "cifar10": "resize",
        "mnist-sample": "mnist",
    }
    for spec in CATALOG.values():
        assert spec.prepare in PREPARE_KINDS and len(spec.mean) == len(spec.std) == spec.channels
        assert len(spec.classes) == 10 and spec.info().checksum == spec.checksum
    assert len({spec.checksum for spec in CATALOG.values()}) == len(CATALOG)


def test_pins_and_mirrors_agree_with_torchvision():
    """The same mirrors, and for KMNIST the publisher's md5s that torchvision checks too."""
    from torchvision import datasets

    assert CATALOG["mnist"].mirrors == tuple(datasets.MNIST.mirrors)
    assert CATALOG["fashion-mnist"].mirrors == tuple(datasets.FashionMNIST.mirrors)
    assert CATALOG["kmnist"].mirrors == tuple(datasets.KMNIST.mirrors)
    assert [(f.name, f.hexdigest) for f in CATALOG["kmnist"].files] == list(datasets.KMNIST.resources)
    [archive] = CATALOG["cifar10"].files
    assert (archive.name, archive.digest, archive.size, archive.pin_of) == (
        "cifar-10-binary.tar.gz",
        "md5:c32a1d4ab5d03f1284b67883e8d87530",  # the binary version's md5 on the CIFAR page
        170_052_171,
        "file",
    )
    assert CATALOG["cifar10"].mirrors == ("https://www.cs.toronto.edu/~kriz/",)


def test_names_and_folders():
    assert dataset_spec(" MNIST ").name == "mnist"
    with pytest.raises(NotFound) as caught:
        dataset_spec("imagenet")
    assert "mnist, fashion-mnist" in caught.value.hint and "folder:PATH" in caught.value.hint
    assert folder_path("mnist") is None and str(folder_path("folder:~/x")).endswith("/x")


def test_the_data_directory_option_then_variable_then_cache_folder(monkeypatch, tmp_path):
    assert resolve_data_dir(tmp_path / "a").path == tmp_path / "a"
    assert resolve_data_dir(tmp_path / "a").source == "--data-dir"
    monkeypatch.setenv("CNN_DATA_DIR", str(tmp_path / "b"))
    assert (resolve_data_dir().path, resolve_data_dir().source) == (tmp_path / "b", "CNN_DATA_DIR")
    monkeypatch.delenv("CNN_DATA_DIR")
    default = resolve_data_dir()
    assert default.path == platformdirs.user_cache_path("cnn") / "datasets" and default.source == "default"
    assert "(the default)" in default.describe()


def test_mirror_overrides(monkeypatch):
    mnist = CATALOG["mnist"]
    assert parse_mirror_list(" http://a/ ,http://b/\nhttp://c/") == ("http://a/", "http://b/", "http://c/")
    assert resolve_mirrors(mnist) == mnist.mirrors
    monkeypatch.setenv("CNN_MIRRORS", "http://env/{dataset}")
    assert resolve_mirrors(mnist) == ("http://env/mnist/",)
    assert resolve_mirrors(mnist, ["https://flag/x"]) == ("https://flag/x/",)  # the option wins
    with pytest.raises(UsageError, match="not an http"):
        resolve_mirrors(mnist, ["file:///srv/mnist/"])
