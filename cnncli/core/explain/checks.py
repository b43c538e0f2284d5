"""The measures behind the claims the README makes of `cnn explain` (the tests and
benchmarks/explain_strokes.py use them): numpy only.

    rank_correlation(a, b)        Spearman's rho, ties given their average rank (as scipy.stats.spearmanr)
    near_ink(pixels)              the strokes of a digit and the pixels next to them
    positive_share(map, mask)     the share of an attribution's positive mass inside a mask
"""

from __future__ import annotations

import numpy as np

INK_LEVEL = 64  # of 255: a pixel at least this bright is ink (MNIST's antialiased edge starts lower)
NEAR = 1  # pixels: "next to the strokes" is within one pixel (a 3 x 3 dilation), a stroke's soft edge


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the mean of their ranks."""
    flat = values.ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    ends = np.concatenate([starts[1:], [flat.size]])
    mean_rank = (starts + ends + 1) / 2.0  # ranks starts+1 .. ends, averaged
    ranks = np.empty(flat.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two maps of the same size (0 when either is constant)."""
    ra, rb = average_ranks(a), average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / scale) if scale > 0 else 0.0


def near_ink(pixels: np.ndarray, level: int = INK_LEVEL, near: int = NEAR) -> np.ndarray:
    """uint8 H x W -> bool H x W: ink pixels, dilated by `near` pixels (a square neighbourhood)."""
    ink = pixels >= level
    padded = np.pad(ink, near)
    height, width = ink.shape
    grown = np.zeros_like(ink)
    for dy in range(2 * near + 1):
        for dx in range(2 * near + 1):
            grown |= padded[dy : dy + height, dx : dx + width]
    return grown


def positive_share(attribution: np.ndarray, mask: np.ndarray) -> float:
    """The share of the attribution's positive mass that lies inside `mask` (nan when it has none)."""
    positive = np.clip(attribution, 0.0, None)
    total = float(positive.sum())
    return float(positive[mask].sum()) / total if total > 0 else float("nan")
