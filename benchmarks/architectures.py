"""Training images a second of two architectures, side by side: the default `lean` against `base` before it.

Each pair runs `cnn train --model A --max-steps N` and the same with B as whole processes, in float32
(`--no-amp`, so every CPU measures the same arithmetic) unless --amp is given, with everything else
the default recipe (batch 256, channels-last, AdamW, one-cycle, 2-px shifts). The order alternates from
pair to pair (A B, B A, ...) so a drift in the machine's speed hits both. `images_per_second` is `cnn
train`'s own figure: the optimizer steps only, not start-up, loading or evaluation. One JSON line per
pair (both figures and the ratio A/B), then the medians, with the CPU's flags and torch's version.

    python benchmarks/architectures.py --pairs 5 --steps 150
    python benchmarks/architectures.py fast base --pairs 3

Accuracy is not measured here (a few steps say nothing of it): benchmarks/recipes.py trains full runs.
`cnn` must find MNIST in its data directory (cnn download mnist --from ../shared/datasets/mnist).
"""

from __future__ import annotations

import argparse
import json
import statistics

from train_speed import environment, ours


def images_per_second(model: str, steps: int, amp: bool, threads: int) -> float:
    flags = ["--model", model, "--max-steps", str(steps), "--amp" if amp else "--no-amp", "--offline"]
    if threads:
        flags += ["--threads", str(threads)]
    doc, _ = ours(*flags)
    return float(doc["images_per_second"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", nargs="?", default="lean", help="architecture measured (default: lean)")
    parser.add_argument("b", nargs="?", default="base", help="architecture it is measured against (default: base)")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=150, help="optimizer steps per run (batch 256)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    parser.add_argument("--amp", action="store_true", help="bfloat16 autocast (default: float32)")
    args = parser.parse_args()
    print(json.dumps({"environment": environment(), "amp": args.amp, "steps": args.steps}), flush=True)
    ratios, figures = [], {args.a: [], args.b: []}
    for pair in range(args.pairs):
        order = (args.a, args.b) if pair % 2 == 0 else (args.b, args.a)
        measured = {model: images_per_second(model, args.steps, args.amp, args.threads) for model in order}
        for model, value in measured.items():
            figures[model].append(value)
        ratios.append(measured[args.a] / measured[args.b])
        shown = {model: round(value, 1) for model, value in measured.items()}
        print(json.dumps({"pair": pair, **shown, "ratio": round(ratios[-1], 3)}), flush=True)
    medians = {f"{m}_images_per_second_median": round(statistics.median(v), 1) for m, v in figures.items()}
    ratio = statistics.median(ratios)
    print(json.dumps({**medians, "ratio_median": round(ratio, 3), "ratios": [round(r, 3) for r in ratios]}))
    print(f"{args.a} trains {ratio:.2f}x the images a second of {args.b} (median of {args.pairs} pairs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
