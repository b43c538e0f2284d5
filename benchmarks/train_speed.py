"""Training speed against the tutorial's loop, run side by side on this machine.

Two figures, each printed as a JSON line and a readable line:

  throughput   images/s of the tutorial's own loop (benchmarks/baseline_tutorial.py: torchvision MNIST,
               DataLoader with shuffle, per-sample ToTensor + Normalize) and of `cnn train --model tutorial`
               with the same hyper-parameters (Adam 1e-3, batch 100, no augmentation, no label smoothing,
               no weight decay, constant rate), alternated A B A B so drift hits both; the ratio per pair.
  time-to-99   seconds of training until the test accuracy first reaches 99.0%: the baseline evaluated
               every quarter epoch (evaluation not counted) against our fastest documented command.

    python benchmarks/train_speed.py --raw-dir ../shared/datasets/mnist throughput --steps 300 --pairs 3
    python benchmarks/train_speed.py --raw-dir ../shared/datasets/mnist time-to-99

`cnn` must find MNIST in its data directory (cnn download mnist --from ../shared/datasets/mnist).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# one epoch has nothing to choose between: no hold-out, all 60,000 images train and the last model is handed over
FASTEST = ["--model", "quick", "--epochs", "1", "--lr", "1.5e-2", "--no-augment", "--val-split", "0"]
TUTORIAL = [
    "--model",
    "tutorial",
    "--optimizer",
    "adam",
    "--lr",
    "1e-3",
    "--batch-size",
    "100",
    "--no-augment",
    "--label-smoothing",
    "0",
    "--weight-decay",
    "0",
    "--schedule",
    "constant",
]


def cpu() -> dict:
    """The CPU's model and the vector flags that decide the speed of float32 and bfloat16 work."""
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile")
    return {"model": model, "flags": [f for f in wanted if f in flags]}


def environment() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpus": torch.get_num_threads(),
        "machine": platform.machine(),
        "cpu": cpu(),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def baseline(raw_dir: Path, *args: str) -> list[dict]:
    command = [sys.executable, str(HERE / "baseline_tutorial.py"), "--raw-dir", str(raw_dir), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def ours(*args: str, source: Path | None = None) -> tuple[dict, float]:
    """`cnn train ARGS` as a whole process: this checkout's cnncli, or the one in `source` (see `checkout`)."""
    env = {**os.environ, "PYTHONPATH": str(source)} if source else None
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        command = [sys.executable, "-m", "cnncli", "train", *args, "--out", out, "--json", "--quiet"]
        # in `source`, `python -m` finds that tree's cnncli before the installed one (the working folder comes first)
        done = subprocess.run(command, capture_output=True, text=True, check=True, env=env, cwd=source)
        return json.loads(done.stdout), time.perf_counter() - started


def checkout(revision: str, into: Path) -> Path:
    """The cnncli package as it was at a git revision of this repository, unpacked under `into`."""
    archive = subprocess.run(
        ["git", "archive", revision, "cnncli"], cwd=HERE.parent, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def throughput(raw_dir: Path, steps: int, pairs: int) -> None:
    rows = []
    for _ in range(pairs):
        base = baseline(raw_dir, "--max-steps", str(steps), "--epochs", "1")[-1]["images_per_second"]
        doc, _ = ours(*TUTORIAL, "--max-steps", str(steps))
        rows.append((base, doc["images_per_second"], doc["images_per_second"] / base))
        print(
            json.dumps(
                {
                    "baseline_images_per_second": base,
                    "cnn_images_per_second": doc["images_per_second"],
                    "ratio": round(rows[-1][2], 2),
                    "amp": doc["amp"],
                }
            ),
            flush=True,
        )
    print(
        f"throughput over {steps} steps, {pairs} pairs: baseline median {statistics.median(r[0] for r in rows):,.0f}"
        f" img/s, cnn train --model tutorial median {statistics.median(r[1] for r in rows):,.0f} img/s, "
        f"ratio median {statistics.median(r[2] for r in rows):.2f}x"
    )


def time_to_99(raw_dir: Path) -> None:
    started = time.perf_counter()
    rows = baseline(raw_dir, "--epochs", "6", "--eval-every", "150", "--target", "0.99")
    base_wall = time.perf_counter() - started
    hit = next((r for r in rows if r["test_accuracy"] >= 0.99), None)
    doc, wall = ours(*FASTEST)
    report = {
        "baseline_seconds_to_99": hit["train_seconds"] if hit else None,
        "baseline_epoch_at_99": hit["epoch"] if hit else None,
        "baseline_process_seconds": round(base_wall, 1),
        "cnn_seconds": doc["train_seconds"],
        "cnn_test_accuracy": doc["final"]["test_accuracy"],
        "cnn_process_seconds": round(wall, 1),
        "command": "cnn train " + " ".join(FASTEST),
    }
    if hit:
        report["ratio"] = round(hit["train_seconds"] / doc["train_seconds"], 1)
    print(json.dumps(report), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, required=True)
    sub = parser.add_subparsers(dest="what", required=True)
    speed = sub.add_parser("throughput")
    speed.add_argument("--steps", type=int, default=300)
    speed.add_argument("--pairs", type=int, default=3)
    sub.add_parser("time-to-99")
    args = parser.parse_args()
    print(json.dumps({"environment": environment()}), flush=True)
    if args.what == "throughput":
        throughput(args.raw_dir, args.steps, args.pairs)
    else:
        time_to_99(args.raw_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
