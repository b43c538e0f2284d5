"""Maps as pictures: feature maps, filters and attributions coloured and laid out in grids (numpy only).

The terminal view (half blocks) and the tests use these; the PNG sheet colours with matplotlib's own
colour maps, which these follow: viridis for activations (dark = quiet), and a blue-white-red diverging
map for signed values (filters, attributions), white at zero.
"""

from __future__ import annotations

import numpy as np

# viridis at 0, 1/4, 1/2, 3/4 and 1 (matplotlib's table), interpolated linearly between
VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float32)
DIVERGING = np.array([[33, 102, 172], [247, 247, 247], [178, 24, 43]], dtype=np.float32)  # RdBu, reversed
GAP = 1  # pixels between tiles


def _through(stops: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Levels in [0, 1] (any shape) -> uint8 RGB (3 x shape), linear between the colour stops."""
    position = np.clip(levels, 0.0, 1.0) * (len(stops) - 1)
    low = np.minimum(position.astype(np.int64), len(stops) - 2)
    share = (position - low)[..., None]
    rgb = stops[low] * (1 - share) + stops[low + 1] * share
    return np.moveaxis(np.rint(rgb).astype(np.uint8), -1, 0)


def activation_colours(maps: np.ndarray) -> np.ndarray:
    """Activations (any shape) on one scale, from their lowest to their highest, in viridis."""
    low, high = (float(maps.min()), float(maps.max())) if maps.size else (0.0, 0.0)
    span = high - low
    return _through(VIRIDIS, (maps - low) / span if span > 0 else np.zeros_like(maps))


def signed_colours(values: np.ndarray, bound: float | None = None) -> np.ndarray:
    """Signed values on a symmetric scale (default: their largest magnitude), white at zero."""
    bound = float(np.abs(values).max()) if bound is None and values.size else (bound or 0.0)
    return _through(DIVERGING, 0.5 + 0.5 * values / bound if bound > 0 else np.full(values.shape, 0.5))


def stage_tiles(maps: np.ndarray) -> list[np.ndarray]:
    """A stage's C x H x W maps as C coloured 3 x H x W tiles, all on the stage's one scale."""
    coloured = activation_colours(maps)
    return [coloured[:, channel] for channel in range(maps.shape[0])]


def enlarged(tile: np.ndarray, least: int) -> np.ndarray:
    """A C x H x W tile repeated pixel by pixel until its shorter side is at least `least` (a 3x3 filter)."""
    factor = max(1, -(-least // min(tile.shape[1:])))
    return tile.repeat(factor, axis=1).repeat(factor, axis=2) if factor > 1 else tile


def grid(tiles: list[np.ndarray], columns: int, background: int = 0) -> np.ndarray:
    """uint8 3 x h x w tiles (all one size) in rows of `columns`, GAP pixels apart: one 3 x H x W picture."""
    if not tiles:
        return np.zeros((3, 1, 1), dtype=np.uint8)
    _, height, width = tiles[0].shape
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    sheet = np.full((3, rows * (height + GAP) - GAP, columns * (width + GAP) - GAP), background, dtype=np.uint8)
    for index, tile in enumerate(tiles):
        top, left = (index // columns) * (height + GAP), (index % columns) * (width + GAP)
        sheet[:, top : top + height, left : left + width] = tile
    return sheet


def columns_for(tile_width: int, space: int) -> int:
    """How many tiles `tile_width` wide fit side by side in `space` pixels (at least one)."""
    return max(1, (space + GAP) // (tile_width + GAP))
