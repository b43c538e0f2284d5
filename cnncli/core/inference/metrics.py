"""Classification metrics from a confusion matrix: per-class precision, recall, F1 and support, their
macro and weighted averages, and the pairs of classes most often confused.

Pure Python on a matrix of counts (rows: the true class, columns: the predicted one), so a test can
check it against a hand computation. A class never predicted has precision 0, one never present has
recall 0, and F1 is 0 where precision and recall both are (scikit-learn's zero_division=0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MOST_CONFUSED = 10  # pairs listed


@dataclass(frozen=True)
class ClassScore:
    name: str
    precision: float
    recall: float
    f1: float
    support: int  # images of this class


@dataclass(frozen=True)
class Average:
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ConfusedPair:
    true: str
    predicted: str
    count: int
    share: float  # of the true class's images


@dataclass(frozen=True)
class ClassificationReport:
    classes: tuple[str, ...]
    matrix: tuple[tuple[int, ...], ...]  # [true][predicted]
    per_class: tuple[ClassScore, ...]
    macro: Average  # the plain mean over classes
    weighted: Average  # weighted by support
    confused: tuple[ConfusedPair, ...]  # off-diagonal cells, largest first

    @property
    def count(self) -> int:
        return sum(map(sum, self.matrix))

    @property
    def accuracy(self) -> float:
        return sum(self.matrix[i][i] for i in range(len(self.classes))) / self.count if self.count else 0.0

    def row_shares(self) -> list[list[float]]:
        """Each row divided by its sum: where each true class's images went."""
        return [[cell / sum(row) if sum(row) else 0.0 for cell in row] for row in self.matrix]


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def classification_report(
    matrix: Sequence[Sequence[int]], classes: Sequence[str], most_confused: int = MOST_CONFUSED
) -> ClassificationReport:
    size = len(classes)
    if len(matrix) != size or any(len(row) != size for row in matrix):
        raise ValueError(f"a confusion matrix of {size} classes must be {size} x {size}")
    rows = tuple(tuple(int(cell) for cell in row) for row in matrix)
    predicted_totals = [sum(rows[t][p] for t in range(size)) for p in range(size)]
    scores = []
    for index, name in enumerate(classes):
        hits, support = rows[index][index], sum(rows[index])
        precision = _ratio(hits, predicted_totals[index])
        recall = _ratio(hits, support)
        scores.append(ClassScore(name, precision, recall, _ratio(2 * precision * recall, precision + recall), support))
    total = sum(s.support for s in scores)
    macro = Average(*(sum(getattr(s, k) for s in scores) / size for k in ("precision", "recall", "f1")))
    weighted = Average(
        *(_ratio(sum(getattr(s, k) * s.support for s in scores), total) for k in ("precision", "recall", "f1"))
    )
    return ClassificationReport(
        tuple(classes), rows, tuple(scores), macro, weighted, _most_confused(rows, classes, most_confused)
    )


def _most_confused(rows: tuple[tuple[int, ...], ...], classes: Sequence[str], limit: int) -> tuple[ConfusedPair, ...]:
    cells = [
        (count, true, predicted)
        for true, row in enumerate(rows)
        for predicted, count in enumerate(row)
        if true != predicted and count > 0
    ]
    cells.sort(key=lambda cell: (-cell[0], cell[1], cell[2]))
    return tuple(
        ConfusedPair(classes[true], classes[predicted], count, count / sum(rows[true]))
        for count, true, predicted in cells[:limit]
    )
