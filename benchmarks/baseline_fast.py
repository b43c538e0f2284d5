"""The public fast MNIST recipe, the yardstick of our fastest recipe: written from its published description.

The well-known "99% on MNIST in under a second" studies (0.76 s to 99.0% on a laptop GTX 1660 Ti) reach
99% in one epoch with: a tiny convolutional net with batch norm; the whole dataset as tensors on the
device, normalised once, batches sliced from a shuffled index (no DataLoader, no per-sample transform);
Adam with a one-cycle learning rate over that one epoch. This script is that recipe, written here from
the description (no code copied): two conv(5x5)-batchnorm-relu-maxpool stages of 24 and 32 channels, a
256-unit hidden layer, batch 128, Adam, OneCycleLR with a peak of 1e-2.

Training seconds count the optimizer steps only (loading, normalising and the test pass are outside,
and a GPU is synchronised before the clock is read), as `cnn train` counts its `train_seconds`. One JSON
line at the end: training seconds, images/s, test accuracy, and the environment it ran in.

    python benchmarks/baseline_fast.py --raw-dir ../shared/datasets/mnist --seed 0 [--device cuda]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

EPOCHS = 1
BATCH = 128
PEAK_LR = 1e-2


def read_idx(path: Path) -> np.ndarray:
    """One gzipped IDX file (MNIST's format): a big-endian header of dimension sizes, then uint8 data."""
    data = gzip.decompress(path.read_bytes())
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load(raw_dir: Path, split: str, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    prefix = "train" if split == "train" else "t10k"
    images = torch.from_numpy(read_idx(raw_dir / f"{prefix}-images-idx3-ubyte.gz").copy())
    labels = torch.from_numpy(read_idx(raw_dir / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))
    return images.to(device).unsqueeze(1).float().div_(255), labels.to(device)


def network() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 24, 5, padding=2, bias=False),
        nn.BatchNorm2d(24),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(24, 32, 5, padding=2, bias=False),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default, all cores)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)

    train_x, train_y = load(args.raw_dir, "train", device)
    test_x, test_y = load(args.raw_dir, "test", device)
    mean, std = train_x.mean(), train_x.std()
    train_x, test_x = (train_x - mean) / std, (test_x - mean) / std

    model = network().to(device)
    steps = EPOCHS * (len(train_x) + BATCH - 1) // BATCH
    optimizer = torch.optim.Adam(model.parameters(), lr=PEAK_LR)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=PEAK_LR, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()

    sync(device)
    started = time.perf_counter()
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(train_x), device=device)
        for first in range(0, len(train_x), BATCH):
            batch = order[first : first + BATCH]
            loss = loss_fn(model(train_x[batch]), train_y[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    sync(device)
    train_seconds = time.perf_counter() - started

    model.eval()
    with torch.no_grad():
        correct = sum(
            int((model(test_x[i : i + 1000]).argmax(1) == test_y[i : i + 1000]).sum())
            for i in range(0, len(test_x), 1000)
        )
    print(
        json.dumps(
            {
                "recipe": "public fast MNIST recipe (baseline_fast.py)",
                "seed": args.seed,
                "device": str(device),
                "train_seconds": round(train_seconds, 3),
                "images_per_second": round(EPOCHS * len(train_x) / train_seconds, 1),
                "test_accuracy": correct / len(test_x),
                "threads": torch.get_num_threads(),
                "torch": torch.__version__,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
