"""Classification metrics against a hand computation on a small known confusion."""

from __future__ import annotations

import pytest
import torch

from cnncli.core.inference.evaluation import _confusion
from cnncli.core.inference.metrics import classification_report

# 10 images of 3 classes; true and predicted labels, worked through by hand below
TRUE = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
PREDICTED = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1]
CLASSES = ("cat", "dog", "owl")


def test_the_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = _confusion(torch.tensor(TRUE), torch.tensor(PREDICTED), 3)
    assert matrix == [[2, 1, 1], [1, 2, 0], [0, 1, 2]]


def test_precision_recall_f1_and_support_by_hand():
    report = classification_report([[2, 1, 1], [1, 2, 0], [0, 1, 2]], CLASSES)
    cat, dog, owl = report.per_class
    # cat: 2 right of 4 cats (recall 1/2); 3 predicted cat, 2 of them right (precision 2/3)
    assert (cat.precision, cat.recall, cat.support) == pytest.approx((2 / 3, 1 / 2, 4))
    assert cat.f1 == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))  # 4/7
    # dog: 2 of 3 dogs; predicted dog 4 times, 2 right
    assert (dog.precision, dog.recall, dog.support) == pytest.approx((1 / 2, 2 / 3, 3))
    # owl: 2 of 3 owls; predicted owl 3 times, 2 right
    assert (owl.precision, owl.recall, owl.f1, owl.support) == pytest.approx((2 / 3, 2 / 3, 2 / 3, 3))
    assert report.accuracy == pytest.approx(6 / 10)
    assert report.count == 10
    f1s = (4 / 7, 4 / 7, 2 / 3)  # dog's F1 is 2 * 1/2 * 2/3 / (7/6) = 4/7 too
    assert report.macro.precision == pytest.approx((2 / 3 + 1 / 2 + 2 / 3) / 3)
    assert report.macro.recall == pytest.approx((1 / 2 + 2 / 3 + 2 / 3) / 3)
    assert report.macro.f1 == pytest.approx(sum(f1s) / 3)
    assert report.weighted.recall == pytest.approx(report.accuracy)  # weighted recall is accuracy, always
    assert report.weighted.precision == pytest.approx((4 * 2 / 3 + 3 * 1 / 2 + 3 * 2 / 3) / 10)
    assert report.weighted.f1 == pytest.approx((4 * 4 / 7 + 3 * 4 / 7 + 3 * 2 / 3) / 10)


def test_most_confused_pairs_are_the_largest_off_diagonal_cells():
    report = classification_report([[50, 7, 1], [2, 40, 0], [0, 9, 30]], CLASSES)
    pairs = [(p.true, p.predicted, p.count) for p in report.confused]
    assert pairs == [("owl", "dog", 9), ("cat", "dog", 7), ("dog", "cat", 2), ("cat", "owl", 1)]
    assert report.confused[0].share == pytest.approx(9 / 39)
    assert report.row_shares()[1] == pytest.approx([2 / 42, 40 / 42, 0])


def test_a_class_never_predicted_or_never_present_scores_zero_not_nan():
    report = classification_report([[3, 0, 0], [2, 0, 0], [0, 0, 0]], CLASSES)
    dog, owl = report.per_class[1], report.per_class[2]
    assert (dog.precision, dog.recall, dog.f1, dog.support) == (0.0, 0.0, 0.0, 2)
    assert (owl.precision, owl.recall, owl.f1, owl.support) == (0.0, 0.0, 0.0, 0)
    assert report.weighted.recall == pytest.approx(3 / 5)


def test_a_matrix_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="3 x 3"):
        classification_report([[1, 0], [0, 1]], CLASSES)
