"""The tutorial's training loop, as the tutorials write it: the baseline every figure is compared to.

torchvision's MNIST dataset, a DataLoader with shuffle, per-sample ToTensor + Normalize,
the reference network (conv 1->32 5x5 pad 2, ReLU, maxpool 2; conv 32->64 5x5 pad 2, ReLU,
maxpool 2; dropout; FC 3136->1000; FC 1000->10), Adam lr 1e-3, batch 100.

It prints one JSON line per evaluation (training seconds so far, images/s, test accuracy), so
benchmarks can read the time to a target accuracy. Evaluation time is not counted as training.

    python benchmarks/baseline_tutorial.py --raw-dir ../shared/datasets/mnist --epochs 6
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


class ConvNet(nn.Module):
    """The reference network of the tutorial, layer for layer."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 32, kernel_size=5, stride=1, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2))
        self.layer2 = nn.Sequential(
            nn.Conv2d(32, 64, kernel_size=5, stride=1, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2)
        )
        self.drop_out = nn.Dropout()
        self.fc1 = nn.Linear(7 * 7 * 64, 1000)
        self.fc2 = nn.Linear(1000, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer2(self.layer1(x))
        out = out.reshape(out.size(0), -1)
        return self.fc2(self.fc1(self.drop_out(out)))


def prepare_root(raw_dir: Path, root: Path) -> None:
    """Lay the IDX files out the way torchvision.datasets.MNIST expects (root/MNIST/raw)."""
    target = root / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        gz = raw_dir / f"{name}.gz"
        if gz.exists():
            with gzip.open(gz, "rb") as src, open(target / name, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(raw_dir / name, target / name)


def evaluate(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            predicted = model(images).argmax(1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    model.train()
    return correct / total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, required=True, help="folder with the MNIST IDX files (.gz or raw)")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--eval-every", type=int, default=0, help="also evaluate every N steps (0: per epoch)")
    parser.add_argument("--target", type=float, default=None, help="stop once test accuracy reaches this")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after N steps (throughput runs)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    trans = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    with tempfile.TemporaryDirectory() as tmp:
        prepare_root(args.raw_dir, Path(tmp))
        train_set = torchvision.datasets.MNIST(root=tmp, train=True, transform=trans, download=False)
        test_set = torchvision.datasets.MNIST(root=tmp, train=False, transform=trans, download=False)
        train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
        test_loader = DataLoader(test_set, batch_size=args.batch_size, shuffle=False)

        model = ConvNet()
        criterion = nn.CrossEntropyLoss()
        optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
        trained = 0.0
        images_seen = 0
        step = 0

        def report(epoch: float) -> bool:
            accuracy = evaluate(model, test_loader)
            row = {
                "epoch": round(epoch, 3),
                "step": step,
                "train_seconds": round(trained, 3),
                "images_per_second": round(images_seen / trained, 1),
                "test_accuracy": accuracy,
            }
            print(json.dumps(row), flush=True)
            return args.target is not None and accuracy >= args.target

        for epoch in range(args.epochs):
            started = time.perf_counter()
            for images, labels in train_loader:
                loss = criterion(model(images), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                images_seen += labels.size(0)
                if args.max_steps and step >= args.max_steps:
                    trained += time.perf_counter() - started
                    report(step / len(train_loader))
                    return 0
                if args.eval_every and step % args.eval_every == 0:
                    trained += time.perf_counter() - started
                    if report(step / len(train_loader)):
                        return 0
                    started = time.perf_counter()
            trained += time.perf_counter() - started
            if not (args.eval_every and step % args.eval_every == 0) and report(epoch + 1):
                return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
