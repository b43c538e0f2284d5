"""`cnn explain --out`: one PNG sheet per image, with matplotlib (the plot extra).

Top row: the image as the network sees it, the first conv's filters, Grad-CAM over the image and the
integrated gradients, each attribution with its colour bar. Below, one labelled grid per stage, a tile
per channel, all tiles of a stage on one scale (so a quiet channel looks quiet).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnncli.core.arch.shapes import format_shape
from cnncli.core.atomic import atomic_write_with
from cnncli.core.explain.explainer import Explanation, Filters, StageMaps
from cnncli.core.explain.tiles import enlarged, grid, signed_colours, stage_tiles
from cnncli.core.inference.plot import require_matplotlib

WIDTH = 11.0  # inches: a page's width at 110 dpi
STAGE_COLUMNS = 16  # tiles per row of a stage's grid
FILTER_SIZE = 12  # filters are enlarged to at least this many pixels a side, so a 3x3 one can be seen


def write_sheet(path: Path, explanation: Explanation, filters: Filters | None, classes: tuple[str, ...]) -> Path:
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mosaics = [(_stage_title(s), _mosaic(stage_tiles(s.maps))) for s in explanation.stages]
    heights = [2.6] + [min(3.2, max(0.7, WIDTH * m.shape[1] / m.shape[2])) + 0.35 for _, m in mosaics]
    figure = plt.figure(figsize=(WIDTH, sum(heights)), layout="constrained")
    rows = figure.add_gridspec(len(heights), 1, height_ratios=heights)
    top = rows[0].subgridspec(1, 4).subplots()
    _top_row(figure, top, explanation, filters, classes)
    for row, (title, mosaic) in enumerate(mosaics, start=1):
        axes = figure.add_subplot(rows[row])
        axes.imshow(np.moveaxis(mosaic, 0, -1), interpolation="nearest")
        axes.set_title(title, fontsize=9, loc="left")
        axes.set_axis_off()
    atomic_write_with(path, lambda temp: figure.savefig(temp, format="png", dpi=110))
    plt.close(figure)
    return Path(path)


def _top_row(figure, axes, explanation: Explanation, filters: Filters | None, classes: tuple[str, ...]) -> None:
    seen = explanation.seen
    picture = seen[0] if seen.shape[0] == 1 else np.moveaxis(seen, 0, -1)
    guesses = ", ".join(f"{label} {100 * p:.1f}%" for label, p in explanation.top)
    axes[0].imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[0].set_title(f"{Path(explanation.name).name}\n{guesses}", fontsize=8)
    if filters is not None:
        tiles = [enlarged(_filter_tile(f), FILTER_SIZE) for f in filters.weights]
        axes[1].imshow(np.moveaxis(_mosaic(tiles, 8), 0, -1), interpolation="nearest")
        axes[1].set_title(f"{filters.layer} filters {'x'.join(map(str, filters.weights.shape))}", fontsize=8)
    target = classes[explanation.target]
    if explanation.cam is not None:
        axes[2].imshow(picture, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        shown = axes[2].imshow(explanation.cam, cmap="inferno", alpha=0.6, interpolation="bilinear")
        figure.colorbar(shown, ax=axes[2], fraction=0.046, pad=0.03)
        axes[2].set_title(f"Grad-CAM at {explanation.cam_layer}\nfor {target}", fontsize=8)
    bound = float(np.abs(explanation.ig.map).max()) or 1.0
    shown = axes[3].imshow(explanation.ig.map, cmap="RdBu_r", vmin=-bound, vmax=bound, interpolation="nearest")
    figure.colorbar(shown, ax=axes[3], fraction=0.046, pad=0.03)
    axes[3].set_title(f"integrated gradients\nfor {target} (red: for, blue: against)", fontsize=8)
    for each in axes:
        each.set_axis_off()


def _filter_tile(weights: np.ndarray) -> np.ndarray:
    """One filter (in x k x k): a colour picture for 3 input channels, else the channels' mean, signed."""
    if weights.shape[0] == 3:
        low, high = float(weights.min()), float(weights.max())
        return np.rint(255 * (weights - low) / ((high - low) or 1.0)).astype(np.uint8)
    return signed_colours(weights.mean(axis=0))


def _mosaic(tiles: list[np.ndarray], columns: int = STAGE_COLUMNS) -> np.ndarray:
    return grid(tiles, columns, background=255)


def _stage_title(stage_maps: StageMaps) -> str:
    stage = stage_maps.stage
    after = f" + {stage.activation}" if stage.activation else ""
    return (
        f"{stage.name}{after}  {format_shape(stage.shape)}   min {stage_maps.minimum:.3g}, mean {stage_maps.mean:.3g}, "
        f"max {stage_maps.maximum:.3g}, zeros {100 * stage_maps.zero_share:.0f}%"
    )
