"""The built-in datasets as plain data: classes, image size, normalisation, files, checksums, mirrors.

Light on purpose (no numpy, no torch): `cnn --help`, completion and `cnn download --list` read it. The
heavy work (fetching, verifying, parsing, caching) lives in `cnncli.core.data`.

Integrity pins come in two kinds. For MNIST and Fashion-MNIST we pin the sha256 and size of each
file's DECOMPRESSED content, so the data is recognised whatever the gzip framing (mirrors re-compress,
users gunzip). For KMNIST and CIFAR-10, which we cannot fetch here to measure, we pin what their
publishers give: the md5 of the file exactly as published.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cnncli.core.errors import NotFound, UsageError

DATA_DIR_ENV = "CNN_DATA_DIR"
MIRRORS_ENV = "CNN_MIRRORS"
FOLDER_PREFIX = "folder:"
SPLITS = ("train", "test")
PREPARE_KINDS = ("mnist", "fashion", "resize")  # how `cnn predict` turns a photo into the model's input


@dataclass(frozen=True)
class DataFile:
    """One file of a dataset, as its mirrors serve it, and the pin it must match."""

    name: str  # as served: "train-images-idx3-ubyte.gz"
    digest: str  # "sha256:<hex>" or "md5:<hex>"
    size: int | None  # bytes the digest covers; None where the publisher gives no size
    pin_of: str = "content"  # "content": the decompressed bytes; "file": the file exactly as published

    @property
    def algorithm(self) -> str:
        return self.digest.split(":", 1)[0]

    @property
    def hexdigest(self) -> str:
        return self.digest.split(":", 1)[1]

    @property
    def raw_name(self) -> str:
        """The name of the decompressed file: the same data, accepted where the pin is on the content."""
        return self.name.removesuffix(".gz")

    def matches(self, digest: str, size: int) -> bool:
        """Whether bytes with this digest and size are the pinned ones (the size only where one is pinned)."""
        return digest == self.digest and (self.size is None or size == self.size)


@dataclass(frozen=True)
class DatasetInfo:
    """What a loaded dataset is: what `cnn train` records beside a model and `cnn predict` reads back."""

    name: str  # "mnist", or "folder:/abs/path"
    classes: tuple[str, ...]
    channels: int
    height: int
    width: int
    mean: tuple[float, ...]  # per channel, of pixels scaled to [0, 1]
    std: tuple[float, ...]
    prepare: str  # one of PREPARE_KINDS
    checksum: str  # sha256 hex identifying the source data

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset: its description, its files and where to fetch them."""

    name: str
    title: str
    classes: tuple[str, ...]
    channels: int
    height: int
    width: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    prepare: str
    layout: str  # "idx" (four IDX files) or "cifar" (one tarball of 3073-byte records)
    files: tuple[DataFile, ...]
    mirrors: tuple[str, ...]
    counts: tuple[int, int]  # images in train, test
    download_bytes: int  # about what a download transfers
    homepage: str
    packaged: bool = False  # shipped inside cnncli (mnist-sample): never downloaded

    @property
    def checksum(self) -> str:
        """sha256 over the pinned digests: identifies the data, and so the prepared copy made from it."""
        text = "".join(f"{f.name} {f.digest}\n" for f in self.files)
        return hashlib.sha256(f"{self.name}\n{text}".encode()).hexdigest()

    def info(self) -> DatasetInfo:
        return DatasetInfo(
            self.name,
            self.classes,
            self.channels,
            self.height,
            self.width,
            self.mean,
            self.std,
            self.prepare,
            self.checksum,
        )

    def split_files(self, split: str) -> tuple[DataFile, ...]:
        """The files a split is read from: images and labels for IDX, the one archive for CIFAR."""
        if self.layout == "cifar":
            return self.files
        prefix = "train-" if split == "train" else "t10k-"
        return tuple(f for f in self.files if f.name.startswith(prefix))


def _idx_files(pins: Sequence[tuple[str, str, int | None]], pin_of: str = "content") -> tuple[DataFile, ...]:
    names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    names += ("t10k-labels-idx1-ubyte.gz",)
    return tuple(DataFile(name, digest, size, pin_of) for name, (digest, size) in zip(names, pins, strict=True))


# Decompressed sha256 and size (shared/datasets/README.md; they match the publishers' MD5s).
_MNIST_PINS = (
    ("sha256:ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db", 47040016),
    ("sha256:65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5", 60008),
    ("sha256:0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7", 7840016),
    ("sha256:ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2", 10008),
)
_FASHION_PINS = (
    ("sha256:c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
    ("sha256:bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
    ("sha256:5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
    ("sha256:0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
)
# The publisher's md5s of the .gz files (the ones torchvision checks); no sizes are published.
_KMNIST_PINS = (
    ("md5:bdb82020997e1d708af4cf47b453dcf7", None),
    ("md5:e144d726b3acfaa3e44228e80efcd344", None),
    ("md5:5c965bf0a639b31b8f53240b1b52f4d7", None),
    ("md5:7320c461ea6c1c855c0b718fb2a4b134", None),
)
# scripts/make_mnist_sample.py prints these; tests/core/data/test_mnist_sample.py checks they still hold.
_SAMPLE_PINS = (
    ("sha256:a1488cda9f38f501a83baf02730149fac8aacb197f27471b065fdc9c81b0d582", 1568016),
    ("sha256:0bd50b14778b43019bf131547ec73f911062c5c0094e812c780e7a27b8f6d47d", 2008),
    ("sha256:625a3d98dc54fa3a520d591021faa24b33330c993f00aa01865a531084b25cb3", 392016),
    ("sha256:3cd8f91e6d39b65c191d5b1109cb1961cec1b119af0692a9cea468498efa522c", 508),
)

DIGITS = tuple(str(d) for d in range(10))
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)  # the figures the PyTorch tutorials use

CATALOG: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            name="mnist",
            title="MNIST handwritten digits",
            classes=DIGITS,
            channels=1,
            height=28,
            width=28,
            mean=MNIST_MEAN,
            std=MNIST_STD,
            prepare="mnist",
            layout="idx",
            files=_idx_files(_MNIST_PINS),
            mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
            counts=(60000, 10000),
            download_bytes=11_594_722,
            homepage="http://yann.lecun.com/exdb/mnist/",
        ),
        DatasetSpec(
            name="fashion-mnist",
            title="Fashion-MNIST clothing (Zalando)",
            classes=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            channels=1,
            height=28,
            width=28,
            mean=(0.2860,),  # computed from the 60,000 training images
            std=(0.3530,),
            prepare="fashion",
            layout="idx",
            files=_idx_files(_FASHION_PINS),
            mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            counts=(60000, 10000),
            download_bytes=30_878_645,
            homepage="https://github.com/zalandoresearch/fashion-mnist",
        ),
        DatasetSpec(
            name="kmnist",
            title="Kuzushiji-MNIST cursive Japanese (CODH)",
            classes=("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
            channels=1,
            height=28,
            width=28,
            mean=(0.1918,),  # published figures: there is no copy on this machine to measure
            std=(0.3483,),
            prepare="mnist",
            layout="idx",
            files=_idx_files(_KMNIST_PINS, pin_of="file"),
            mirrors=("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",),
            counts=(60000, 10000),
            download_bytes=21_000_000,
            homepage="https://github.com/rois-codh/kmnist",
        ),
        DatasetSpec(
            name="cifar10",
            title="CIFAR-10 tiny colour photos (binary version)",
            classes=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            channels=3,
            height=32,
            width=32,
            mean=(0.4914, 0.4822, 0.4465),  # published figures for the training set
            std=(0.2470, 0.2435, 0.2616),
            prepare="resize",
            layout="cifar",
            files=(DataFile("cifar-10-binary.tar.gz", "md5:c32a1d4ab5d03f1284b67883e8d87530", 170_052_171, "file"),),
            mirrors=("https://www.cs.toronto.edu/~kriz/",),
            counts=(50000, 10000),
            download_bytes=170_052_171,
            homepage="https://www.cs.toronto.edu/~kriz/cifar.html",
        ),
        DatasetSpec(
            name="mnist-sample",
            title="2,000 + 500 MNIST digits shipped with cnn",
            classes=DIGITS,
            channels=1,
            height=28,
            width=28,
            # MNIST's own figures: a model trained on the sample must take the same input as one trained on MNIST
            mean=MNIST_MEAN,
            std=MNIST_STD,
            prepare="mnist",
            layout="idx",
            files=_idx_files(_SAMPLE_PINS),
            mirrors=(),
            counts=(2000, 500),
            download_bytes=0,
            homepage="http://yann.lecun.com/exdb/mnist/",
            packaged=True,
        ),
    )
}


def dataset_spec(name: str) -> DatasetSpec:
    """The built-in dataset called `name`, or NotFound listing the ones there are."""
    spec = CATALOG.get(name.strip().lower())
    if spec is None:
        raise NotFound(
            f"unknown dataset {name!r}",
            f"built-in datasets: {', '.join(CATALOG)}; or folder:PATH for your own images (one sub-folder per class)",
        )
    return spec


def folder_path(name: str) -> Path | None:
    """The folder of a `folder:PATH` dataset name, or None for a built-in name."""
    if not name.startswith(FOLDER_PREFIX):
        return None
    text = name[len(FOLDER_PREFIX) :]
    if not text:
        raise UsageError("folder: needs a path", "e.g. folder:./photos, with one sub-folder per class")
    return Path(text).expanduser()


@dataclass(frozen=True)
class DataDir:
    path: Path
    source: str  # "--data-dir", "CNN_DATA_DIR" or "default"

    def describe(self) -> str:
        return f"{self.path} (from {self.source})" if self.source != "default" else f"{self.path} (the default)"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> DataDir:
    """Where datasets live: --data-dir, else $CNN_DATA_DIR, else the platform's user cache folder."""
    if explicit:
        return DataDir(Path(explicit).expanduser().absolute(), "--data-dir")
    from_env = os.environ.get(DATA_DIR_ENV, "").strip()
    if from_env:
        return DataDir(Path(from_env).expanduser().absolute(), DATA_DIR_ENV)
    import platformdirs

    return DataDir(platformdirs.user_cache_path("cnn") / "datasets", "default")


def parse_mirror_list(text: str) -> tuple[str, ...]:
    """'http://a/ http://b/' or 'http://a/,http://b/' -> ('http://a/', 'http://b/')."""
    return tuple(part for part in re.split(r"[\s,]+", text) if part)


def _well_formed(url: str) -> bool:
    """urllib can take it apart: brackets that close, a port from 0 to 65535."""
    try:
        parts = urllib.parse.urlsplit(url)
        return bool(parts.hostname) and (parts.port is None or parts.port >= 0)
    except ValueError:
        return False


def resolve_mirrors(spec: DatasetSpec, override: Sequence[str] | None = None) -> tuple[str, ...]:
    """The base URLs to try, in order: the override (--mirror), else $CNN_MIRRORS, else the dataset's own.

    A `{dataset}` in a URL stands for the dataset's name, so one setting can serve several datasets.
    """
    chosen = tuple(override or ()) or parse_mirror_list(os.environ.get(MIRRORS_ENV, "")) or spec.mirrors
    result = []
    for base in chosen:
        if not re.match(r"^https?://[^/]", base) or not _well_formed(base):
            raise UsageError(f"not an http(s) URL: {base!r}", "a mirror is a base URL such as https://host/mnist/")
        base = base.replace("{dataset}", spec.name)
        result.append(base if base.endswith("/") else base + "/")
    return tuple(result)
