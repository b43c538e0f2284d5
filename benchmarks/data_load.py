"""Loading MNIST: cnn's load_split against torchvision's MNIST + ToTensor, and `cnn download` end to end.

    python benchmarks/data_load.py [--raw-dir ../shared/datasets/mnist] [--repeat 5] [--baseline-repeat 3]

Prints, as medians of the runs:
  first load     load_split("mnist", "train") with no prepared copy: the .gz files decompressed,
                 verified, parsed into the uint8 tensor, and the safetensors copy written
  cached load    the same call again (the prepared copy is memory-mapped)
  cached, float  the cached load plus `images.float() / 255`: the tensor torchvision produces
  torchvision    datasets.MNIST(transform=ToTensor()) and torch.stack of all 60,000 images
  ratio          torchvision / (cached, float)
  download       `cnn download mnist --mirror http://127.0.0.1:PORT/mnist/` in a fresh process, against
                 `python -m http.server` serving --raw-dir's parent (11 MB over loopback)
It checks that both ways give the same float tensor. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def median_time(run: Callable[[], object], repeat: int, before: Callable[[], None] = lambda: None) -> float:
    times = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def ours(data_dir: Path, raw_dir: Path, repeat: int) -> tuple[float, float, float, torch.Tensor]:
    from cnncli.core.data import AcquireRequest, load_split
    from cnncli.core.data.acquire import acquire_dataset
    from cnncli.core.data.catalog import CATALOG

    assert acquire_dataset(CATALOG["mnist"], AcquireRequest(data_dir, source=raw_dir)).ok
    prepared = data_dir / "mnist" / "train.safetensors"
    first = median_time(lambda: load_split("mnist", "train", data_dir), repeat, lambda: prepared.unlink(True))
    cached = median_time(lambda: load_split("mnist", "train", data_dir), repeat)
    as_float = median_time(lambda: load_split("mnist", "train", data_dir).images.float().div_(255), repeat)
    return first, cached, as_float, load_split("mnist", "train", data_dir).images.float().div_(255)


def torchvision_baseline(root: Path, raw_dir: Path, repeat: int) -> tuple[float, torch.Tensor]:
    from torchvision import datasets, transforms

    target = root / "MNIST" / "raw"
    target.mkdir(parents=True)
    for name in (
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ):
        (target / name).write_bytes(gzip.decompress((raw_dir / f"{name}.gz").read_bytes()))
    result = {}

    def run() -> None:
        dataset = datasets.MNIST(str(root), train=True, download=False, transform=transforms.ToTensor())
        result["images"] = torch.stack([dataset[i][0] for i in range(len(dataset))])

    return median_time(run, repeat), result["images"]


def download(raw_dir: Path, work: Path, repeat: int) -> float:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "--directory", str(raw_dir.parent)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        mirror = f"http://127.0.0.1:{port}/{raw_dir.name}/"
        target = work / "download"

        def run() -> None:
            command = [sys.executable, "-m", "cnncli", "download", "mnist", "--mirror", mirror, "-q"]
            subprocess.run([*command, "--data-dir", str(target)], check=True, env={**os.environ, "NO_COLOR": "1"})

        return median_time(run, repeat, lambda: shutil.rmtree(target, ignore_errors=True))
    finally:
        server.terminate()
        server.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline-repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        first, cached, as_float, mine = ours(work / "data", args.raw_dir, args.repeat)
        baseline, theirs = torchvision_baseline(work / "tv", args.raw_dir, args.baseline_repeat)
        fetched = download(args.raw_dir, work, args.repeat)
    same = torch.equal(mine, theirs)
    print(f"threads: {torch.get_num_threads()}, runs: {args.repeat} (torchvision {args.baseline_repeat}); medians")
    print(f"first load (gz -> uint8 tensor + prepared copy): {first * 1000:8.1f} ms")
    print(f"cached load (uint8 tensor):                      {cached * 1000:8.1f} ms")
    print(f"cached load + float/255:                         {as_float * 1000:8.1f} ms")
    print(f"torchvision MNIST + ToTensor, stacked:           {baseline * 1000:8.1f} ms")
    print(f"ratio torchvision / (cached + float):            {baseline / as_float:8.1f}x   same tensor: {same}")
    print(f"cnn download mnist from a local http.server:     {fetched * 1000:8.1f} ms")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
