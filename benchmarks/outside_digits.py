"""How models do on digits from outside MNIST: the typeset photos scripts/make_examples.py draws.

    python benchmarks/outside_digits.py pretrained:mnist runs/lean-mnist-1 --variants 30

Draws VARIANTS images per digit (seeded, in a temporary folder), runs `cnn predict --json` with each
model, and prints each model's share of right labels, with the environment. The images are set in type
(several faces, sizes, slants, uneven light): a different population from MNIST's handwriting, so this
says how a model carries over, not how it scores on its test set.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from train_speed import environment

HERE = Path(__file__).resolve().parent


def accuracy(model: str, folder: Path) -> float:
    command = [sys.executable, "-m", "cnncli", "predict", str(folder), "-r", "--model", model, "--json", "-q"]
    rows = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    right = sum(Path(row["file"]).parent.name == row.get("label") for row in rows)
    return right / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model references (pretrained:mnist, runs/NAME, ...)")
    parser.add_argument("--variants", type=int, default=30, help="images per digit")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work) / "digits"
        script = HERE.parent / "scripts" / "make_examples.py"
        draw = [sys.executable, str(script), "--out", str(folder), "--variants", str(args.variants)]
        subprocess.run([*draw, "--seed", str(args.seed)], check=True)
        print(json.dumps({"environment": environment(), "images": 10 * args.variants}))
        for model in args.models:
            print(json.dumps({"model": model, "accuracy": round(accuracy(model, folder), 4)}))


if __name__ == "__main__":
    main()
