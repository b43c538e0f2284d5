"""From a picture of the real world to the image a model was trained on: each dataset's own recipe.

A network trained on MNIST has only ever seen white ink on black, the digit's box 20 px on its longer
side and its centre of mass at the centre of 28 x 28. A photo of a digit on paper is none of that, so
before it meets the network it goes through how MNIST itself was made:

    mnist    grey; invert dark ink on light paper (the polarity is detected from the border); clean:
             subtract the paper's lighting (a smooth surface fitted to the paper pixels) and its
             texture (below three noise deviations), stretch the ink to full white; crop to the ink's
             box (specks apart from it ignored); scale its longer side to 20 px, keeping the aspect
             ratio, antialiased; place it in 28 x 28 with its centre of mass at the centre.
    fashion  Fashion-MNIST's conversion: grey; invert a light background; trim it; fit the longer side
             to 28 px; centre the box.
    resize   a plain conversion to the model's channels and a resize to its size (CIFAR-10, folders).

Every step can be switched off (PrepareOptions), and `raw` resizes only. An image already in the
dataset's form (MNIST's own 28 x 28 test images) comes out unchanged: the cleaning finds no paper
noise and no lighting, its box is already 20 px and its centre of mass already central. The output is
uint8 C x H x W, as the datasets are stored, so the model's own Normaliser finishes the job.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from cnncli.core.modelfile.metadata import Preprocessing

MNIST_BOX = 20 / 28  # MNIST's digit box is 20 px of 28
NOISE_DEVIATIONS = 3.0  # paper texture below this many noise deviations is paper
SPECK_SHARE = 0.01  # a run of ink rows (or columns) with less of the ink than this, apart from the rest, is a speck
INK_PERCENTILE = 95  # the level of the ink that becomes full white
BORDER_SHARE = 0.06  # the frame the paper's colour is judged from
LIGHTING_CELLS = 6  # the lighting surface goes through the paper level of a 6 x 6 grid of cells
FULL_INK = 0.98  # ink at least this bright is already white
STATISTICS_SAMPLE = 16384  # values a median or percentile of a big picture is taken from


@dataclass(frozen=True)
class PrepareOptions:
    """Which steps of the recipe run; each is on unless switched off."""

    invert: bool = True  # detect the polarity and invert dark ink on light paper
    clean: bool = True  # remove lighting and paper texture, stretch the ink
    crop: bool = True  # crop to the ink's box
    center: bool = True  # centre of mass (mnist); off: the box's centre
    raw: bool = False  # none of it: convert and resize only


@dataclass(frozen=True)
class Recipe:
    """How pictures become a model's input: `recipe(picture)` -> uint8 C x H x W."""

    kind: str  # mnist, fashion or resize
    channels: int
    height: int
    width: int
    options: PrepareOptions = field(default_factory=PrepareOptions)

    @property
    def colour(self) -> bool:
        """Whether pictures should be read in colour: only where the model takes colour as it is."""
        return self.channels == 3 and self.kind == "resize"

    def __call__(self, picture: np.ndarray) -> np.ndarray:
        if self.kind == "resize" or self.options.raw:
            return _to_uint8(_resized(picture, (self.height, self.width)), self.channels)
        grey = picture if picture.ndim == 2 else picture.mean(axis=2)
        if self.kind == "fashion":
            return _to_uint8(_fashion(grey, (self.height, self.width), self.options), self.channels)
        return _to_uint8(_mnist(grey, (self.height, self.width), self.options), self.channels)


def recipe_for(preprocessing: Preprocessing, options: PrepareOptions | None = None) -> Recipe:
    """The recipe a model's metadata names; one we do not know is a plain resize."""
    kind = preprocessing.prepare if preprocessing.prepare in ("mnist", "fashion") else "resize"
    height, width = preprocessing.size
    return Recipe(kind, preprocessing.channels, height, width, options or PrepareOptions())


# -- the recipes ------------------------------------------------------------------------------------


def _mnist(grey: np.ndarray, size: tuple[int, int], options: PrepareOptions) -> np.ndarray:
    ink, textured = _ink_bright(grey, options), True
    if options.clean:
        ink, textured = cleaned(ink)
    if options.crop:
        ink = ink[ink_box(ink, ignore_specks=textured)]
    box = max(1, round(min(size) * MNIST_BOX))
    scaled = _fit(ink, box)
    return _place(scaled, size, by_mass=options.center)


def _fashion(grey: np.ndarray, size: tuple[int, int], options: PrepareOptions) -> np.ndarray:
    ink = _ink_bright(grey, options)
    if options.clean:
        ink = _stretch(ink, _border_level(ink), quantile(ink, 0.995))
    if options.crop:
        ink = ink[ink_box(ink)]
    scaled = _fit(ink, min(size))
    return _place(scaled, size, by_mass=False)


def _ink_bright(grey: np.ndarray, options: PrepareOptions) -> np.ndarray:
    return 1.0 - grey if options.invert and light_paper(grey) else grey


# -- the steps --------------------------------------------------------------------------------------


def light_paper(grey: np.ndarray) -> bool:
    """Dark ink on light paper: the border (mostly paper) is nearer the bright end than the dark end."""
    ordered = np.sort(_sample(grey))
    low, high = _ranked(ordered, 0.01), _ranked(ordered, 0.99)
    border = _border_level(grey)
    return bool(border - low > high - border)


def _border_level(grey: np.ndarray) -> float:
    height, width = grey.shape
    band = max(1, round(BORDER_SHARE * min(height, width)))
    frame = np.concatenate([grey[:band].ravel(), grey[-band:].ravel(), grey[:, :band].ravel(), grey[:, -band:].ravel()])
    return _median(frame)


def clean(ink: np.ndarray) -> np.ndarray:
    """Paper to 0, ink to 1: the lighting surface subtracted, texture under the noise floor dropped."""
    return cleaned(ink)[0]


def cleaned(ink: np.ndarray) -> tuple[np.ndarray, bool]:
    """The cleaned picture, and whether the paper had texture (so specks of it may be left over).

    Paper that is mostly one exact value (a drawing, a scan already cleaned, MNIST's own images) has
    no lighting and no texture to remove: only its level is subtracted, so such images pass unchanged.
    """
    paper = ink <= otsu_threshold(ink)
    if paper.all() or not paper.any():
        return np.zeros_like(ink), False  # one level only: all paper
    paper_level = _flat_level(ink[paper])
    if paper_level is not None:
        residual, floor = ink - paper_level, 0.0
    else:
        residual, paper = _flattened(ink, paper)
        floor = NOISE_DEVIATIONS * _deviation(residual[paper])
    if paper.all():
        return np.clip(residual, 0.0, 1.0), floor > 0
    level = quantile(residual[~paper], INK_PERCENTILE / 100)
    if level >= FULL_INK and floor == 0:
        return np.clip(residual, 0.0, 1.0), False  # the ink is already white: requantising would only blur it
    return _stretch(residual, floor, level), floor > 0


def _flattened(ink: np.ndarray, paper: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink above the paper's lighting, and the paper pixels. Twice: a strong lighting gradient can
    fool the first split of paper from ink, not the second."""
    residual = ink - lighting(ink, paper)
    second = residual <= otsu_threshold(residual)
    if second.all() or not second.any():
        return residual, paper
    return ink - lighting(ink, second), second


def otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits the values into two classes (Otsu 1979), over 256 bins."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return high
    step = (high - low) / 256
    bins = np.minimum(((values - low) / step).astype(np.int64), 255)
    counts = np.bincount(bins.ravel(), minlength=256).astype(np.float64)
    centres = low + step * (np.arange(256) + 0.5)
    weight = np.cumsum(counts)
    mass = np.cumsum(counts * centres)
    total = weight[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = weight * (total - weight) * (mass / weight - (mass[-1] - mass) / (total - weight)) ** 2
    between = np.where(np.isfinite(between[:-1]), between[:-1], -1.0)
    return low + step * (int(np.argmax(between)) + 1)


def lighting(ink: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """The lighting across the page: a quadratic surface through the paper's level in a grid of cells.

    Each cell's level is the median of its paper pixels, so the soft edges of strokes and ink the split
    missed do not pull the surface up; cells that are mostly ink are left out.
    """
    height, width = ink.shape
    row_edges = np.linspace(0, height, LIGHTING_CELLS + 1).astype(np.int64)
    col_edges = np.linspace(0, width, LIGHTING_CELLS + 1).astype(np.int64)
    centres, levels = [], []
    for top, bottom in itertools.pairwise(row_edges):
        for left, right in itertools.pairwise(col_edges):
            cell = ink[top:bottom, left:right][paper[top:bottom, left:right]]
            if cell.size >= max(1, (bottom - top) * (right - left) // 4):
                centres.append(((top + bottom - 1) / 2, (left + right - 1) / 2))
                levels.append(_median(cell))
    if len(levels) < 6:  # too few cells of paper to fit a surface: one level for the page
        return np.full(ink.shape, _median(ink[paper]), dtype=np.float32)
    points = np.array(centres)
    terms = _surface_terms(points[:, 0] / max(height - 1, 1), points[:, 1] / max(width - 1, 1))
    c = np.linalg.lstsq(terms, np.array(levels), rcond=None)[0]
    y = (np.arange(height) / max(height - 1, 1))[:, None]
    x = (np.arange(width) / max(width - 1, 1))[None, :]
    return (c[0] + c[1] * y + c[2] * x + c[3] * y * y + c[4] * x * y + c[5] * x * x).astype(np.float32)


def _surface_terms(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.stack([np.ones_like(y), y, x, y * y, x * y, x * x], axis=1)


def _deviation(values: np.ndarray) -> float:
    """A robust standard deviation: 1.4826 times the median absolute deviation."""
    if values.size == 0:
        return 0.0
    return 1.4826 * _median(np.abs(values - _median(values)))


def _flat_level(values: np.ndarray) -> float | None:
    """The one value most of `values` share exactly (their median absolute deviation is 0), or None."""
    ordered = np.sort(_sample(values))
    middle = float(ordered[ordered.size // 2])
    same = np.searchsorted(ordered, middle, side="right") - np.searchsorted(ordered, middle, side="left")
    return middle if 2 * same > ordered.size else None


def _median(values: np.ndarray) -> float:
    return quantile(values, 0.5)


def quantile(values: np.ndarray, share: float) -> float:
    """The value `share` of the way up the sorted values (nearest rank): np.percentile's answer to within
    one rank, at a fraction of its cost on the small arrays here. A sort, not np.partition, which slows
    tenfold on the many equal values of a clean background."""
    return _ranked(np.sort(_sample(values)), share)


def _sample(values: np.ndarray) -> np.ndarray:
    """All the values of a small array; an even sample of a big one: the statistics here (medians,
    percentiles) come out the same to well within a grey level, at a fraction of a full sort's cost."""
    flat = values.ravel()
    step = -(-flat.size // STATISTICS_SAMPLE)
    return flat if step <= 1 else flat[::step]


def _ranked(ordered: np.ndarray, share: float) -> float:
    rank = min(ordered.size - 1, max(0, round(share * (ordered.size - 1))))
    return float(ordered[rank])


def _stretch(values: np.ndarray, floor: float, level: float) -> np.ndarray:
    if level <= floor:
        return np.clip(values - floor, 0.0, 1.0)
    return np.clip((values - floor) / (level - floor), 0.0, 1.0).astype(np.float32)


def ink_box(ink: np.ndarray, ignore_specks: bool = True) -> tuple[slice, slice]:
    """The box of the ink; no ink at all: the whole picture. Specks (paper texture that cleared the
    noise floor) are ignored: runs of inked rows (columns) apart from the rest that hold less than
    SPECK_SHARE of the ink. On clean paper there are no specks, and every stroke counts, however faint
    or far (some of MNIST's digits have such fragments)."""
    share = SPECK_SHARE if ignore_specks else 0.0
    rows, cols = _span(ink.sum(axis=1), share), _span(ink.sum(axis=0), share)
    if rows is None or cols is None:
        return slice(None), slice(None)
    return slice(*rows), slice(*cols)


def _span(profile: np.ndarray, speck_share: float) -> tuple[int, int] | None:
    total = float(profile.sum())
    if total <= 0:
        return None
    inked = profile > 0
    where = np.flatnonzero(inked)
    if where[-1] - where[0] + 1 == where.size:  # one run: the usual case, and no specks apart
        return int(where[0]), int(where[-1]) + 1
    edges = np.flatnonzero(np.diff(np.concatenate([[False], inked, [False]]).astype(np.int8)))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    kept = [(a, b) for a, b in runs if profile[a:b].sum() >= speck_share * total] or runs
    return kept[0][0], kept[-1][1]


def _fit(ink: np.ndarray, box: int) -> np.ndarray:
    """Scaled so the longer side is `box` px, keeping the aspect ratio; antialiased (Lanczos)."""
    height, width = ink.shape
    scale = box / max(height, width)
    target = (max(1, round(width * scale)), max(1, round(height * scale)))
    if target == (width, height):
        return ink.astype(np.float32)
    image = Image.fromarray(np.ascontiguousarray(ink, dtype=np.float32), mode="F")
    return np.clip(np.asarray(image.resize(target, Image.Resampling.LANCZOS)), 0.0, 1.0)


def _place(ink: np.ndarray, size: tuple[int, int], by_mass: bool) -> np.ndarray:
    """Put `ink` into a black canvas of `size`: its centre of mass at the centre, as MNIST did (then the
    mass lands in the pixel just past the middle, where MNIST's lands), or its box centred."""
    height, width = size
    canvas = np.zeros(size, dtype=np.float32)
    rows, cols = ink.shape
    mass = float(ink.sum())
    if by_mass and mass > 0:
        centre_row = float((ink.sum(axis=1) * np.arange(rows)).sum()) / mass
        centre_col = float((ink.sum(axis=0) * np.arange(cols)).sum()) / mass
        top = math.ceil((height - 1) / 2 - centre_row)
        left = math.ceil((width - 1) / 2 - centre_col)
    else:
        top, left = (height - rows) // 2, (width - cols) // 2
    # paste what falls inside the canvas
    src_top, src_left = max(0, -top), max(0, -left)
    dst_top, dst_left = max(0, top), max(0, left)
    span_rows = min(rows - src_top, height - dst_top)
    span_cols = min(cols - src_left, width - dst_left)
    if span_rows > 0 and span_cols > 0:
        canvas[dst_top : dst_top + span_rows, dst_left : dst_left + span_cols] = ink[
            src_top : src_top + span_rows, src_left : src_left + span_cols
        ]
    return canvas


def _resized(picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A plain resize to (height, width), antialiased; channels kept."""
    height, width = size
    if picture.shape[:2] == (height, width):
        return picture
    planes = picture[..., None] if picture.ndim == 2 else picture
    resized = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32), mode="F").resize(
                (width, height), Image.Resampling.BILINEAR
            )
        )
        for c in range(planes.shape[2])
    ]
    out = np.stack(resized, axis=2)
    return out[..., 0] if picture.ndim == 2 else out


def _to_uint8(picture: np.ndarray, channels: int) -> np.ndarray:
    """float [0, 1] H x W (x C) -> uint8 C x H x W with the model's channel count."""
    pixels = np.clip(np.rint(picture * 255.0), 0, 255).astype(np.uint8)
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    if pixels.shape[0] == channels:
        return np.ascontiguousarray(pixels)
    if channels == 1:  # colour to grey, weighted as Pillow's "L"
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)[:, None, None]
        return np.clip(np.rint((pixels.astype(np.float32) * weights).sum(0)), 0, 255).astype(np.uint8)[None]
    return np.ascontiguousarray(np.repeat(pixels[:1], channels, axis=0))
