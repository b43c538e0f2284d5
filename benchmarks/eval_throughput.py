"""`cnn eval`'s pass over MNIST's test set against the tutorial's test loop, with the same trained model.

    python benchmarks/eval_throughput.py [--model FILE] [--raw-dir ../shared/datasets/mnist] [--repeat 5]

The tutorial's loop: torchvision's MNIST test set with per-sample ToTensor + Normalize, a DataLoader
of batch 100, `model(images)` under no_grad, argmax and a running count. Ours: evaluate_model(), the
core of `cnn eval` (the split as one uint8 tensor, batched normalisation, inference mode), with every
metric `cnn eval` prints. Both run the same weights, in this process, turn about, and each figure is
the median of --repeat runs:
  end to end   the dataset opened and every test image classified (ours also scores every metric;
               the model file is loaded once, before the clock starts, for both)
  pass         ours: the pass over the split alone (EvalResult.seconds)
The tutorial's loop runs a second time with torch on one thread: on a machine whose cores are busy with
other work its threads wait for each other at every op, and one thread can be the faster; the ratio
is given against the better of its two.
Without --model it first trains `fast` for one epoch (`cnn train`) into a temporary folder. The two
accuracies are printed too: they must agree. Nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path

import torch
from trained import train_fast_mnist

REPO = Path(__file__).resolve().parents[1]
FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def tutorial_root(raw_dir: Path, root: Path) -> Path:
    """The raw IDX files laid out as torchvision.datasets.MNIST expects (root/MNIST/raw)."""
    target = root / "MNIST" / "raw"
    target.mkdir(parents=True, exist_ok=True)
    for name in (*FILES, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        source = raw_dir / f"{name}.gz"
        if name in FILES:
            (target / name).write_bytes(gzip.decompress(source.read_bytes()))
        else:  # torchvision checks the training files exist; the test loop never reads them
            (target / name).write_bytes(b"")
    return root


def tutorial_loop(model: torch.nn.Module, root: Path) -> tuple[float, float]:
    """The tutorial's evaluation, as written there: seconds and accuracy."""
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    started = time.perf_counter()
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
    test_dataset = datasets.MNIST(root=str(root), train=False, transform=transform, download=False)
    test_loader = DataLoader(dataset=test_dataset, batch_size=100, shuffle=False)
    model.eval()
    with torch.no_grad():
        correct = total = 0
        for images, labels in test_loader:
            outputs = model(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return time.perf_counter() - started, correct / total


def ours(model_file: Path, data_dir: Path) -> tuple[float, float, float]:
    """evaluate_model on the test split: end-to-end seconds, pass seconds, accuracy."""
    from cnncli.core.inference.evaluation import EvalRequest, evaluate_model

    started = time.perf_counter()
    result = evaluate_model(EvalRequest(model=str(model_file), dataset="mnist", device="cpu", data_dir=str(data_dir)))
    return time.perf_counter() - started, result.seconds, result.accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="a trained MNIST model file (default: train one)")
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from cnncli.core.data import AcquireRequest, acquire_dataset
    from cnncli.core.data.catalog import CATALOG
    from cnncli.core.modelfile.weights import load_model

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        model_file = args.model or train_fast_mnist(args.raw_dir, work)
        data_dir = work / "data"
        assert acquire_dataset(CATALOG["mnist"], AcquireRequest(data_dir, source=args.raw_dir)).ok
        root = tutorial_root(args.raw_dir, work / "tutorial")
        network = load_model(model_file, "cpu").model  # the same weights, as the tutorial would hold them
        ours(model_file, data_dir)  # warm-up: the prepared copy of the test split, the kernels
        tutorial_loop(network, root)
        theirs_times, single_times, ours_times, pass_times = [], [], [], []
        threads = torch.get_num_threads()
        for _ in range(args.repeat):
            seconds, accuracy_theirs = tutorial_loop(network, root)
            theirs_times.append(seconds)
            torch.set_num_threads(1)
            single_times.append(tutorial_loop(network, root)[0])
            torch.set_num_threads(threads)
            total, pass_seconds, accuracy_ours = ours(model_file, data_dir)
            ours_times.append(total)
            pass_times.append(pass_seconds)
    count = 10_000
    theirs, single, mine, passing = (statistics.median(t) for t in (theirs_times, single_times, ours_times, pass_times))
    print(f"model: {model_file}; {threads} CPU threads; medians of {args.repeat} runs")
    print(f"tutorial loop  {theirs:7.3f} s  {count / theirs:9,.0f} images/s  accuracy {100 * accuracy_theirs:.2f}%")
    print(f"  on 1 thread  {single:7.3f} s  {count / single:9,.0f} images/s")
    theirs = min(theirs, single)
    print(f"cnn eval       {mine:7.3f} s  {count / mine:9,.0f} images/s  accuracy {100 * accuracy_ours:.2f}%")
    print(f"  its pass     {passing:7.3f} s  {count / passing:9,.0f} images/s")
    print(f"ratio          {theirs / mine:.2f}x end to end, {theirs / passing:.2f}x for the pass alone")


if __name__ == "__main__":
    main()
