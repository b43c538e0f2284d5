"""Does `cnn explain`'s evidence lie on the digit? And does it pass the sanity checks of Adebayo et al.
(NeurIPS 2018)? Measured on MNIST test digits with a trained model.

    python benchmarks/explain_strokes.py [--model FILE] [--raw-dir ../shared/datasets/mnist] [--count 300]

For the first --count test digits (taken as they are: MNIST's own images pass the recipe unchanged):
  on strokes    the share of the positive attribution within one pixel of the ink (checks.near_ink),
                for Grad-CAM, for integrated gradients from the black baseline `cnn explain` uses,
                and from a mid-grey one; beside it, the share of the image the mask covers (chance).
                From black, IG is zero wherever the pixel is black (its input minus the baseline is
                0), so its share is 1 by construction: the grey baseline is the figure that tests it.
  sanity        Spearman's rank correlation between each attribution of the trained model and the
                same with the classifier (the last fc) re-initialised, and between the evidence for
                the predicted class and for the second likeliest. A map that explains the model,
                not the image, must change in both.
Without --model it first trains `fast` for one epoch into a temporary folder. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import gzip
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from trained import train_fast_mnist

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def test_digits(raw_dir: Path, count: int) -> np.ndarray:
    with gzip.open(raw_dir / "t10k-images-idx3-ubyte.gz") as stream:
        data = np.frombuffer(stream.read(), dtype=np.uint8, offset=16)
    return data.reshape(-1, 1, 28, 28)[:count]


def measure(model: Path, raw_dir: Path, count: int) -> dict:
    from cnncli.core.explain.checks import digit_figures, with_classifier_reset
    from cnncli.core.explain.explainer import Explainer, ExplainSettings
    from cnncli.core.inference.model import open_model

    trained = Explainer(open_model(str(model), "cpu"), ExplainSettings(layers=["conv1"]))
    reset = with_classifier_reset(trained)
    started = time.perf_counter()
    rows = [digit_figures(trained, reset, pixels) for pixels in test_digits(raw_dir, count)]
    return {"rows": rows, "seconds": time.perf_counter() - started}


def summary(rows: list[dict], key: str) -> str:
    values = [r[key] for r in rows if r[key] == r[key]]  # nan: no positive attribution at all
    ordered = sorted(values)
    low, high = ordered[len(ordered) // 10], ordered[(9 * len(ordered)) // 10]
    return f"median {statistics.median(values):.3f}  (10th-90th percentile {low:.3f} to {high:.3f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--raw-dir", type=Path, default=REPO.parent / "shared" / "datasets" / "mnist")
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work:
        model = args.model or train_fast_mnist(args.raw_dir, Path(work))
        result = measure(model, args.raw_dir, args.count)
    rows = result["rows"]
    print(f"python {platform.python_version()}, torch {torch.__version__}, {platform.machine()}, 1 thread")
    print(f"cpu flags: {cpu_flags()}")
    each = result["seconds"] / len(rows)
    print(f"{len(rows)} MNIST test digits, model {model}; {each:.3f} s a digit (explain, then 3 IG, 2 Grad-CAM more)")
    print("share of the positive attribution on or next to the strokes:")
    print(f"  mask's share of the image (chance)  {summary(rows, 'mask')}")
    print(f"  Grad-CAM                            {summary(rows, 'cam')}")
    print(f"  integrated gradients, black         {summary(rows, 'ig_black')}   (1 by construction)")
    print(f"  integrated gradients, grey baseline {summary(rows, 'ig_grey')}")
    print("the same, as multiples of the mask's share (1: no better than chance):")
    print(f"  Grad-CAM                            {summary(rows, 'cam_over_chance')}")
    print(f"  integrated gradients, grey baseline {summary(rows, 'ig_grey_over_chance')}")
    print("Spearman rank correlation (sanity checks; near 1: the map did not change):")
    print(f"  IG, trained vs classifier re-initialised        {summary(rows, 'ig_reset')}")
    print(f"  |IG|, the same (Adebayo's absolute maps)        {summary(rows, 'ig_reset_abs')}")
    print(f"  |IG|, the same, on and next to the ink only     {summary(rows, 'ig_reset_abs_ink')}")
    print(f"  Grad-CAM, trained vs classifier re-initialised  {summary(rows, 'cam_reset')}")
    print(f"  IG, predicted class vs second likeliest         {summary(rows, 'ig_classes')}")
    print(f"  Grad-CAM, predicted class vs second likeliest   {summary(rows, 'cam_classes')}")


def cpu_flags() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown"
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return " ".join(f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile", "fma") if f in flags) or "none of note"


if __name__ == "__main__":
    main()
