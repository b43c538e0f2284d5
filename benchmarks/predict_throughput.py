"""`cnn predict FOLDER --jsonl` on 10,000 PNG files: images per second, end to end.

    python benchmarks/predict_throughput.py [--model FILE] [--raw-dir ../shared/datasets/mnist]
                                            [--count 10000] [--repeat 3] [--photos]

Writes MNIST's test digits as PNG files (28 x 28, white on black, as the dataset has them) into a
temporary folder, then times the real command in a fresh process, stdout to a file, each figure the
median of --repeat runs:
  end to end   the whole command: start-up (Python, torch, the model) and every image
  start-up     the same command on one image
  images       count / (end to end - start-up): the rate once running
--photos writes each digit instead as a 64 x 64 JPEG photo of dark ink on light paper (lit unevenly,
grainy), which takes the recipe's whole path: polarity, lighting, texture, crop, scale, centre.
Without --model it first trains `fast` for one epoch into a temporary folder. Nothing here is asserted
by the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from trained import train_fast_mnist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_images(raw_dir: Path, work: Path, folder: Path, count: int, photos: bool) -> None:
    from PIL import Image

    from cnncli.core.data import AcquireRequest, acquire_dataset, load_split
    from cnncli.core.data.catalog import CATALOG
    from tests.support.photos import jpeg_bytes, photo_of

    data_dir = work / "data"
    assert acquire_dataset(CATALOG["mnist"], AcquireRequest(data_dir, source=raw_dir)).ok
    test = load_split("mnist", "test", data_dir)
    folder.mkdir(parents=True)
    for index in range(count):
        digit = test.images[index % len(test), 0].numpy()
        if photos:
            photo = photo_of(digit, 64, 64, 0.8, (0.0, 0.0), seed=index)
            (folder / f"{index:05d}.jpg").write_bytes(jpeg_bytes(photo))
        else:
            Image.fromarray(digit).save(folder / f"{index:05d}.png")


def timed(arguments: list[str], output: Path) -> float:
    command = [sys.executable, "-m", "cnncli", "predict", *arguments, "--jsonl", "-q"]
    started = time.perf_counter()
    with open(output, "wb") as sink:
        subprocess.run(command, stdout=sink, check=True, env={**os.environ, "NO_COLOR": "1"})
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained MNIST model file (default: train one)")
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--photos", action="store_true", help="64 x 64 JPEG photos instead of MNIST's own PNGs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        model = args.model or train_fast_mnist(args.raw_dir, work)
        folder = work / "images"
        write_images(args.raw_dir, work, folder, args.count, args.photos)
        first = sorted(folder.iterdir())[0]
        output = work / "predictions.jsonl"
        timed([str(folder), "--model", str(model)], output)  # warm-up: the page cache, the model file
        whole = statistics.median(timed([str(folder), "--model", str(model)], output) for _ in range(args.repeat))
        lines = len(output.read_bytes().splitlines())
        start = statistics.median(timed([str(first), "--model", str(model)], output) for _ in range(args.repeat))
    kind = "64 x 64 JPEG photos" if args.photos else "28 x 28 PNG files (MNIST's own)"
    print(f"{args.count:,} {kind}, {lines:,} predictions; {os.cpu_count()} CPUs; medians of {args.repeat} runs")
    print(f"end to end  {whole:7.2f} s  {args.count / whole:8,.0f} images/s")
    print(f"start-up    {start:7.2f} s  (one image)")
    print(f"images      {whole - start:7.2f} s  {args.count / (whole - start):8,.0f} images/s once running")


if __name__ == "__main__":
    main()
