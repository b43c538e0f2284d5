"""Our fastest recipe against the public fast MNIST recipe, side by side: training seconds and test accuracy.

For each seed, the public recipe (benchmarks/baseline_fast.py) and `cnn train --model fast --epochs 1
--lr 1.5e-2 --no-augment` (the README's fastest recipe) run one after the other, in float32 (--no-amp)
so any CPU measures the same arithmetic; the order alternates from seed to seed (A B, B A, ...) so a
drift in the machine's speed hits both. Each pair prints a JSON line with both training times, both
accuracies and the ratio ours/public; the end prints the medians and whether the goal holds: ours at
least 99.0% (median over the seeds) in at most half the public recipe's training time.

    python benchmarks/fast_vs_public.py --raw-dir ../shared/datasets/mnist --seeds 0 1 2 [--threads 2]
    python benchmarks/fast_vs_public.py --raw-dir ... --device cuda --amp    # on a GPU, both as they run there

`cnn` must find MNIST in its data directory (cnn download mnist --from ../shared/datasets/mnist).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from train_speed import FASTEST, environment, ours

HERE = Path(__file__).resolve().parent
GOAL_ACCURACY = 0.99
GOAL_RATIO = 0.5


def public(raw_dir: Path, seed: int, device: str, threads: int) -> dict:
    command = [sys.executable, str(HERE / "baseline_fast.py"), "--raw-dir", str(raw_dir), "--seed", str(seed)]
    command += ["--device", device, "--threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def cnn(seed: int, device: str, threads: int, amp: bool, extra: list[str]) -> dict:
    flags = [*FASTEST, "--seed", str(seed), "--device", device, "--amp" if amp else "--no-amp", *extra]
    if threads:
        flags += ["--threads", str(threads)]
    doc, wall = ours(*flags)
    return {
        "train_seconds": doc["train_seconds"],
        "test_accuracy": doc["final"]["test_accuracy"],
        "process_seconds": round(wall, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw-dir", type=Path, required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for both (0: all cores)")
    parser.add_argument("--amp", action="store_true", help="ours with --amp (default: --no-amp, float32)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more flags for cnn train")
    args = parser.parse_args()
    print(json.dumps({"environment": environment(), "command": "cnn train " + " ".join(FASTEST)}), flush=True)
    rows = []
    for index, seed in enumerate(args.seeds):
        if index % 2 == 0:  # A B, then B A: a drift in the machine's speed hits both
            base = public(args.raw_dir, seed, args.device, args.threads)
            mine = cnn(seed, args.device, args.threads, args.amp, args.extra)
        else:
            mine = cnn(seed, args.device, args.threads, args.amp, args.extra)
            base = public(args.raw_dir, seed, args.device, args.threads)
        row = {
            "seed": seed,
            "public_train_seconds": base["train_seconds"],
            "public_test_accuracy": base["test_accuracy"],
            "cnn_train_seconds": mine["train_seconds"],
            "cnn_test_accuracy": mine["test_accuracy"],
            "cnn_process_seconds": mine["process_seconds"],
            "ratio": round(mine["train_seconds"] / base["train_seconds"], 3),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    median = {key: statistics.median(r[key] for r in rows) for key in rows[0] if key != "seed"}
    met = median["cnn_test_accuracy"] >= GOAL_ACCURACY and median["ratio"] <= GOAL_RATIO
    print(json.dumps({"median": median, "goal_met": met}), flush=True)
    print(
        f"medians over seeds {args.seeds}: public {median['public_train_seconds']:.1f} s at "
        f"{median['public_test_accuracy']:.2%}, cnn {median['cnn_train_seconds']:.1f} s at "
        f"{median['cnn_test_accuracy']:.2%}; ratio {median['ratio']:.2f} (goal: <= {GOAL_RATIO} at "
        f">= {GOAL_ACCURACY:.1%}): {'met' if met else 'not met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
