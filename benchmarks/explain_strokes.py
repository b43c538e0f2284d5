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


def reinitialised(explainer):
    """The explainer's network with its last fc given fresh torch-default weights (Adebayo's cascade, step 1)."""
    last = [m for m in explainer.network.modules() if isinstance(m, torch.nn.Linear)][-1]
    torch.manual_seed(0)
    last.reset_parameters()
    last.requires_grad_(False)


def measure(model: Path, raw_dir: Path, count: int) -> dict:
    from cnncli.core.explain.attribution import grad_cam, integrated_gradients
    from cnncli.core.explain.checks import near_ink, positive_share, rank_correlation
    from cnncli.core.explain.explainer import Explainer, ExplainSettings
    from cnncli.core.inference.model import open_model

    explainer = Explainer(open_model(str(model), "cpu"), ExplainSettings(layers=["conv1"]))
    digits = test_digits(raw_dir, count)
    grey = explainer.normaliser(torch.full((1, 1, 28, 28), 128, dtype=torch.uint8))
    black = explainer.normaliser(torch.zeros((1, 1, 28, 28), dtype=torch.uint8))
    layer = dict(explainer.network.named_modules())[explainer.cam_stage.module]
    rows, started = [], time.perf_counter()
    for pixels in digits:
        shown = explainer.explain("digit", pixels)
        mask = near_ink(pixels[0])
        image = explainer.normaliser(torch.tensor(pixels[None]))
        from_grey = integrated_gradients(explainer.network, image, grey, shown.target).map
        second = explainer.model.classes.index(shown.top[1][0])
        rows.append(
            {
                "image": image,
                "shown": shown,
                "mask": float(mask.mean()),
                "cam": positive_share(shown.cam, mask),
                "ig_black": positive_share(shown.ig.map, mask),
                "ig_grey": positive_share(from_grey, mask),
                "ig_classes": rank_correlation(
                    shown.ig.map, integrated_gradients(explainer.network, image, black, second).map
                ),
                "cam_classes": rank_correlation(shown.cam, grad_cam(explainer.network, image, layer, second)),
            }
        )
    seconds = time.perf_counter() - started
    reinitialised(explainer)
    for row in rows:
        # the class the trained model's maps were for: only the weights differ
        shown, image = row["shown"], row["image"]
        ig_random = integrated_gradients(explainer.network, image, black, shown.target).map
        row["ig_reinit"] = rank_correlation(shown.ig.map, ig_random)
        row["ig_reinit_abs"] = rank_correlation(np.abs(shown.ig.map), np.abs(ig_random))
        row["cam_reinit"] = rank_correlation(shown.cam, grad_cam(explainer.network, image, layer, shown.target))
        row["cam_enrichment"] = row["cam"] / row["mask"]
        row["ig_grey_enrichment"] = row["ig_grey"] / row["mask"]
    return {"rows": rows, "seconds": seconds}


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
    print(f"{len(rows)} MNIST test digits, model {model}; {result['seconds'] / len(rows):.3f} s an image explained")
    print("share of the positive attribution on or next to the strokes:")
    print(f"  mask's share of the image (chance)  {summary(rows, 'mask')}")
    print(f"  Grad-CAM                            {summary(rows, 'cam')}")
    print(f"  integrated gradients, black         {summary(rows, 'ig_black')}   (1 by construction)")
    print(f"  integrated gradients, grey baseline {summary(rows, 'ig_grey')}")
    print("the same, as multiples of the mask's share (1: no better than chance):")
    print(f"  Grad-CAM                            {summary(rows, 'cam_enrichment')}")
    print(f"  integrated gradients, grey baseline {summary(rows, 'ig_grey_enrichment')}")
    print("Spearman rank correlation (sanity checks; near 1: the map did not change):")
    print(f"  IG, trained vs classifier re-initialised        {summary(rows, 'ig_reinit')}")
    print(f"  |IG|, the same (Adebayo's absolute maps)        {summary(rows, 'ig_reinit_abs')}")
    print(f"  Grad-CAM, trained vs classifier re-initialised  {summary(rows, 'cam_reinit')}")
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
