"""The measures behind the claims the README makes of `cnn explain` (the tests and
benchmarks/explain_strokes.py use them).

    rank_correlation(a, b)        Spearman's rho, ties given their average rank (as scipy.stats.spearmanr)
    near_ink(pixels)              the strokes of a digit and the pixels next to them
    positive_share(map, mask)     the share of an attribution's positive mass inside a mask
    digit_figures(trained, reset, pixels)   all of them for one digit (see there)
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from cnncli.core.explain.attribution import grad_cam, integrated_gradients
from cnncli.core.explain.explainer import Explainer

GREY = 128  # the second baseline: from it, black paper is a change too, so IG can rest off the strokes

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


def with_classifier_reset(explainer: Explainer, seed: int = 0) -> Explainer:
    """A copy of the explainer whose last fc has fresh torch-default weights: the first step of Adebayo
    et al.'s cascading randomisation (a map that explains the model must change with it)."""
    reset = copy.deepcopy(explainer)
    last = [m for m in reset.network.modules() if isinstance(m, nn.Linear)][-1]
    torch.manual_seed(seed)
    last.reset_parameters()
    last.requires_grad_(False)
    return reset


def digit_figures(trained: Explainer, reset: Explainer, pixels: np.ndarray) -> dict[str, float]:
    """For one digit (uint8 1 x H x W): the shares of positive attribution near its ink (and the mask's own
    share of the image, chance), and the rank correlations of the sanity checks: each map against the
    same map with the classifier reset (same class), and against the map for the second likeliest class."""
    shown = trained.explain("digit", pixels)
    mask = near_ink(pixels[0])
    batch = torch.tensor(pixels[None], device=trained.model.device)
    image, black = trained.normaliser(batch), trained.normaliser(torch.zeros_like(batch))
    grey = trained.normaliser(torch.full_like(batch, GREY))
    layer = dict(trained.network.named_modules())[trained.cam_stage.module]
    reset_layer = dict(reset.network.named_modules())[reset.cam_stage.module]
    second = trained.model.classes.index(shown.top[1][0])
    ig_reset = integrated_gradients(reset.network, image, black, shown.target).map
    chance = float(mask.mean())
    cam = positive_share(shown.cam, mask)
    ig_grey = positive_share(integrated_gradients(trained.network, image, grey, shown.target).map, mask)
    return {
        "mask": chance,
        "cam": cam,
        "cam_over_chance": cam / chance,
        "ig_black": positive_share(shown.ig.map, mask),
        "ig_grey": ig_grey,
        "ig_grey_over_chance": ig_grey / chance,
        "ig_reset": rank_correlation(shown.ig.map, ig_reset),
        "ig_reset_abs": rank_correlation(np.abs(shown.ig.map), np.abs(ig_reset)),
        "ig_reset_abs_ink": rank_correlation(np.abs(shown.ig.map)[mask], np.abs(ig_reset)[mask]),
        "cam_reset": rank_correlation(shown.cam, grad_cam(reset.network, image, reset_layer, shown.target)),
        "ig_classes": rank_correlation(shown.ig.map, integrated_gradients(trained.network, image, black, second).map),
        "cam_classes": rank_correlation(shown.cam, grad_cam(trained.network, image, layer, second)),
    }
