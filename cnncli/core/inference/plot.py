"""`cnn eval --plot FILE.png`: the confusion matrix as a figure, with matplotlib (the plot extra).

Each cell is shaded by its share of the true class's images (row-normalised, so a rare class's
mistakes show as clearly as a common one's) and labelled with its count.
"""

from __future__ import annotations

from pathlib import Path

from cnncli.core.atomic import atomic_write_with
from cnncli.core.inference.metrics import ClassificationReport
from cnncli.core.plotting import require_pyplot


def require_matplotlib() -> None:
    """Checked before the evaluation runs, so a missing extra does not cost a whole pass first."""
    require_pyplot("--plot")


def plot_confusion(path: Path, report: ClassificationReport, title: str) -> Path:
    plt = require_pyplot("--plot")

    shares = report.row_shares()
    size = len(report.classes)
    side = max(5.0, 0.55 * size + 2.5)
    figure, axes = plt.subplots(figsize=(side + 1.2, side))
    shown = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(shown, ax=axes, fraction=0.046, pad=0.04, label="share of the true class")
    axes.set_xticks(range(size), labels=report.classes, rotation=45 if size > 5 else 0, ha="right")
    axes.set_yticks(range(size), labels=report.classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title)
    if size <= 30:  # beyond that the numbers are unreadable; the shading still tells
        for true, row in enumerate(report.matrix):
            for predicted, count in enumerate(row):
                if count:
                    colour = "white" if shares[true][predicted] > 0.5 else "black"
                    axes.text(predicted, true, str(count), ha="center", va="center", color=colour, fontsize=8)
    figure.tight_layout()
    atomic_write_with(path, lambda temp: figure.savefig(temp, format="png", dpi=110))
    plt.close(figure)
    return Path(path)
