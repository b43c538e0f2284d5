"""Training images a second of two architectures, side by side: the default `lean` against `base` before it.

Each pair runs `cnn train --model A --max-steps N` and the same with B as whole processes, in float32
(`--no-amp`, so every CPU measures the same arithmetic) unless --amp is given, with everything else
the default recipe (batch 256, channels-last, AdamW, one-cycle, 2-px shifts). The order alternates from
pair to pair (A B, B A, ...) so a drift in the machine's speed hits both. `images_per_second` is `cnn
train`'s own figure: the optimizer steps only, not start-up, loading or evaluation. One JSON line per
pair (both figures and the ratio A/B), then the medians, with the CPU's flags and torch's version.

    python benchmarks/architectures.py --pairs 5 --steps 150
    python benchmarks/architectures.py fast base --pairs 3
    python benchmarks/architectures.py lean base --b-at 783e0a6 --pairs 3 --steps 600

--a-at/--b-at REV run that side with cnncli as it was at a git revision of this repository (unpacked with
`git archive` into a temporary folder): the default recipe now against the default recipe then, each
with its own code.

Accuracy is not measured here (a few steps say nothing of it): benchmarks/recipes.py trains full runs.
`cnn` must find MNIST in its data directory (cnn download mnist --from ../shared/datasets/mnist).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path

from train_speed import checkout, environment, ours


@dataclass(frozen=True)
class Side:
    model: str
    revision: str | None  # the git revision its cnncli is from, or None for this checkout
    source: Path | None  # where that revision's cnncli is unpacked

    @property
    def label(self) -> str:
        return f"{self.model}@{self.revision}" if self.revision else self.model


def images_per_second(side: Side, steps: int, amp: bool, threads: int) -> float:
    flags = ["--model", side.model, "--max-steps", str(steps), "--amp" if amp else "--no-amp", "--offline"]
    if threads:
        flags += ["--threads", str(threads)]
    doc, _ = ours(*flags, source=side.source)
    return float(doc["images_per_second"])


def side(model: str, revision: str | None, work: Path, name: str) -> Side:
    if not revision:
        return Side(model, None, None)
    folder = work / name
    folder.mkdir()
    return Side(model, revision, checkout(revision, folder))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", nargs="?", default="lean", help="architecture measured (default: lean)")
    parser.add_argument("b", nargs="?", default="base", help="architecture it is measured against (default: base)")
    parser.add_argument("--a-at", metavar="REV", help="run A with cnncli as at this git revision")
    parser.add_argument("--b-at", metavar="REV", help="run B with cnncli as at this git revision")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per run (batch 256)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (default: float32)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        a, b = side(args.a, args.a_at, Path(work), "a"), side(args.b, args.b_at, Path(work), "b")
        if a.label == b.label:
            parser.error(f"A and B are the same run ({a.label}): give another architecture or revision")
        return compare(a, b, args)


def compare(a: Side, b: Side, args: argparse.Namespace) -> int:
    print(json.dumps({"environment": environment(), "amp": args.amp, "steps": args.steps}), flush=True)
    ratios, figures = [], {a.label: [], b.label: []}
    for pair in range(args.pairs):
        order = (a, b) if pair % 2 == 0 else (b, a)
        measured = {s.label: images_per_second(s, args.steps, args.amp, args.threads) for s in order}
        for label, value in measured.items():
            figures[label].append(value)
        ratios.append(measured[a.label] / measured[b.label])
        shown = {label: round(value, 1) for label, value in measured.items()}
        print(json.dumps({"pair": pair, **shown, "ratio": round(ratios[-1], 3)}), flush=True)
    medians = {f"{label}_images_per_second_median": round(statistics.median(v), 1) for label, v in figures.items()}
    ratio = statistics.median(ratios)
    print(json.dumps({**medians, "ratio_median": round(ratio, 3), "ratios": [round(r, 3) for r in ratios]}))
    print(f"{a.label} trains {ratio:.2f}x the images a second of {b.label} (median of {args.pairs} pairs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
