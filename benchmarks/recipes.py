"""The README's training recipes, each run for several seeds: test accuracy and training seconds.

Every recipe the README quotes a figure for is defined here, once, with the flags it adds to
`cnn train` (everything else is the default recipe of cnncli/core/training/config.py). Each run prints a
JSON line as it ends; each recipe then prints its median, min and max over the seeds, so a figure in the
README can be traced to one command. The accuracy is the test accuracy of the model the run hands over
(`best`, picked on the validation hold-out, or the last where there is none), beside the last epoch's.

    python benchmarks/recipes.py fastest default --seeds 0 1 2
    python benchmarks/recipes.py fashion --seeds 0 1 2

`cnn` must find the datasets in its data directory (cnn download mnist --from ../shared/datasets/mnist).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from train_speed import FASTEST, TUTORIAL, environment  # one definition of each, shared with the speed figures

RECIPES: dict[str, list[str]] = {
    # the fastest command to 99.0% on MNIST: the small `quick` net, one epoch, a high peak rate (one-cycle),
    # no augmentation (one epoch is too short for shifted digits to pay for themselves), no hold-out
    "fastest": FASTEST,
    # `cnn train` as it comes: `lean`, 8 epochs, AdamW 8e-3 one-cycle, label smoothing, 2-px shifts
    "default": [],
    # the default recipe with `base`, the default architecture before `lean` and the bundled models'
    "base": ["--model", "base"],
    # the default recipe cut to 5 epochs: most of the accuracy in 60% of the time
    "short": ["--epochs", "5"],
    # the default recipe for twice as long: no better on MNIST (99.62% for seed 0), so not a recipe of ours
    "long": ["--epochs", "16"],
    # the default recipe on Fashion-MNIST (mirroring, no shifts)
    "fashion": ["--dataset", "fashion-mnist"],
    # the tutorial's network and hyper-parameters, through cnn train (as train_speed.py runs it)
    "tutorial": [*TUTORIAL, "--epochs", "6"],
}


def run_once(name: str, seed: int, out: Path) -> dict[str, object]:
    command = [sys.executable, "-m", "cnncli", "train", *RECIPES[name], "--seed", str(seed)]
    done = subprocess.run([*command, "--out", str(out), "-q", "--json"], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{name} seed {seed} failed ({done.returncode}): {done.stderr.strip()}")
    doc = json.loads(done.stdout)
    # the model the run hands over: the best on the validation hold-out, else (--val-split 0) the last
    best = doc["best"] or {}
    handed_over = best if best.get("test_accuracy") is not None else doc["final"]
    return {
        "recipe": name,
        "seed": seed,
        "test_accuracy": handed_over["test_accuracy"],
        "final_test_accuracy": doc["final"]["test_accuracy"],
        "train_seconds": doc["train_seconds"],
        "images_per_second": doc["images_per_second"],
        "amp": doc["amp"],
    }


def summarise(name: str, rows: list[dict[str, object]]) -> dict[str, object]:
    accuracies = [float(r["test_accuracy"]) for r in rows]
    seconds = [float(r["train_seconds"]) for r in rows]
    return {
        "recipe": name,
        "command": " ".join(["cnn train", *RECIPES[name]]).strip(),
        "seeds": [r["seed"] for r in rows],
        "test_accuracy_median": statistics.median(accuracies),
        "test_accuracy_min": min(accuracies),
        "test_accuracy_max": max(accuracies),
        "train_seconds_median": round(statistics.median(seconds), 1),
        "train_seconds_min": round(min(seconds), 1),
        "train_seconds_max": round(max(seconds), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipes", nargs="+", choices=sorted(RECIPES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    print(json.dumps({"environment": environment()}), flush=True)
    with tempfile.TemporaryDirectory(prefix="cnn-recipes-") as scratch:
        for name in args.recipes:
            rows = []
            for seed in args.seeds:
                rows.append(run_once(name, seed, Path(scratch)))
                print(json.dumps(rows[-1]), flush=True)
            print(json.dumps(summarise(name, rows)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
