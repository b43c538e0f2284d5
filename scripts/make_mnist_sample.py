"""Carve `mnist-sample` (the dataset shipped inside cnn) out of the real MNIST files.

    python scripts/make_mnist_sample.py [MNIST_DIR] [OUT_DIR]

MNIST_DIR holds the four IDX files (gzipped or not; default: ../shared/datasets/mnist beside the
repository) and OUT_DIR receives the sample (default: cnncli/resources/mnist-sample). It takes 200 training
and 50 test images of each digit, chosen with a fixed seed and kept in their original order, so the
output is the same on every run; then it prints the sha256 and size of each decompressed file, the pins
in cnncli/core/data/catalog.py. tests/core/data/test_mnist_sample.py regenerates the sample and compares.

A script rather than a benchmark or a command: it is run by maintainers, once per change of the recipe.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

SEED = 20240501
PER_CLASS = {"train": 200, "t10k": 50}
REPO = Path(__file__).resolve().parents[1]


def _read(folder: Path, stem: str) -> bytes:
    gz, raw = folder / f"{stem}.gz", folder / stem
    return gzip.decompress(gz.read_bytes()) if gz.exists() else raw.read_bytes()


def carve(prefix: str, images: bytes, labels: bytes) -> tuple[bytes, bytes]:
    """The sample's IDX bytes: PER_CLASS[prefix] images of each digit, in the order MNIST has them."""
    label_array = np.frombuffer(labels, np.uint8, offset=8)
    image_array = np.frombuffer(images, np.uint8, offset=16).reshape(-1, 28 * 28)
    rng = np.random.default_rng(SEED)
    chosen = np.sort(
        np.concatenate(
            [rng.choice(np.flatnonzero(label_array == d), PER_CLASS[prefix], replace=False) for d in range(10)]
        )
    )
    count = len(chosen).to_bytes(4, "big")
    image_idx = b"\x00\x00\x08\x03" + count + (28).to_bytes(4, "big") * 2 + image_array[chosen].tobytes()
    label_idx = b"\x00\x00\x08\x01" + count + label_array[chosen].tobytes()
    return image_idx, label_idx


def make(source: Path, out: Path) -> dict[str, bytes]:
    """Write the four gzipped files to `out`; returns their decompressed contents by file name."""
    out.mkdir(parents=True, exist_ok=True)
    contents = {}
    for prefix in PER_CLASS:
        images = _read(source, f"{prefix}-images-idx3-ubyte")
        labels = _read(source, f"{prefix}-labels-idx1-ubyte")
        image_idx, label_idx = carve(prefix, images, labels)
        contents[f"{prefix}-images-idx3-ubyte.gz"] = image_idx
        contents[f"{prefix}-labels-idx1-ubyte.gz"] = label_idx
    for name, data in contents.items():
        # mtime=0 and no file name in the header: the same bytes on every run
        (out / name).write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
    return contents


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else REPO.parent / "shared" / "datasets" / "mnist"
    out = Path(argv[1]) if len(argv) > 1 else REPO / "cnncli" / "resources" / "mnist-sample"
    for name, data in make(source, out).items():
        print(f"{name}  sha256:{hashlib.sha256(data).hexdigest()}  {len(data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
