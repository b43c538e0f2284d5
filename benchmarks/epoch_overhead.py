"""What a one-epoch `cnn train` spends outside its training steps and `import torch`, as whole processes.

Each round times, one after the other: `python -c "import torch"` (the floor no run of ours can go below,
2-5 s on small machines), and the fastest recipe (`cnn train` with benchmarks/train_speed.py's FASTEST,
float32 unless --amp) as a whole process. Its overhead is the process's wall time less its training
seconds (`train_seconds` in its --json) and less the median `import torch`: start-up past torch, loading
the prepared dataset, building the network, the evaluation, the model files and the state, metrics.jsonl,
curves.png, and the exit. The run's own `eval_seconds` (metrics.jsonl) is printed beside it, as the
largest part. One JSON line per round, then the medians and whether the goal holds (at most 2 s).

    python benchmarks/epoch_overhead.py --rounds 5

`cnn` must find MNIST in its data directory (cnn download mnist --from ../shared/datasets/mnist).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from train_speed import FASTEST, environment

GOAL_SECONDS = 2.0


def import_torch_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    return time.perf_counter() - started


def one_epoch(amp: bool) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "cnncli", "train", *FASTEST, "--amp" if amp else "--no-amp", "--offline"]
        command += ["--out", out, "--name", "run", "--json", "--quiet"]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - started
        rows = [json.loads(line) for line in (Path(out) / "run" / "metrics.jsonl").read_text().splitlines()]
    return {
        "wall": wall,
        "train": float(json.loads(done.stdout)["train_seconds"]),
        "eval": sum(float(row["eval_seconds"]) for row in rows),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (default: float32)")
    args = parser.parse_args()
    print(json.dumps({"environment": environment(), "command": "cnn train " + " ".join(FASTEST)}), flush=True)
    imports, runs = [], []
    for round_ in range(args.rounds):
        imports.append(import_torch_seconds())
        runs.append(one_epoch(args.amp))
        shown = {key: round(value, 2) for key, value in runs[-1].items()}
        print(json.dumps({"round": round_, "import_torch": round(imports[-1], 2), **shown}), flush=True)
    floor = statistics.median(imports)
    overheads = [run["wall"] - run["train"] - floor for run in runs]
    overhead = statistics.median(overheads)
    summary = {
        "import_torch_median": round(floor, 2),
        "wall_median": round(statistics.median(run["wall"] for run in runs), 2),
        "train_median": round(statistics.median(run["train"] for run in runs), 2),
        "eval_median": round(statistics.median(run["eval"] for run in runs), 2),
        "overhead_median": round(overhead, 2),
        "goal_met": overhead <= GOAL_SECONDS,
    }
    print(json.dumps(summary))
    print(f"outside training and import torch: {overhead:.2f} s (median of {args.rounds}; goal <= {GOAL_SECONDS:g} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
