"""Checks that make the attributions science, on real MNIST test digits and a model trained on MNIST.

Thresholds come from benchmarks/explain_strokes.py on 300 digits (figures in the README): there the
medians are far from each bound, and each test takes the median of DIGITS digits, whose spread is a
fraction of one digit's (the 10th-90th percentile range over single digits is quoted with each bound).
"""

from __future__ import annotations

import statistics

import pytest

from cnncli.core.data import load_split
from cnncli.core.explain.checks import digit_figures, with_classifier_reset
from cnncli.core.explain.explainer import Explainer, ExplainSettings
from cnncli.core.inference.model import open_model

DIGITS = 24  # the first test digits: a median steady to a few hundredths, in seconds
# A map changed "substantially" (Adebayo et al. 2018): rank correlation under 0.5 with the old one. A map
# that follows the image rather than the model stays near 1 (|IG| over the whole image does: 0.99),
# while the medians measured here are about 0 (single digits: -0.2 to 0.2 for IG, -0.4 to 0.5 for Grad-CAM).
CHANGED = 0.5


@pytest.fixture(scope="module")
def figures(mnist_model):
    trained = Explainer(open_model(str(mnist_model.model), "cpu"), ExplainSettings(layers=["conv1"]))
    reset = with_classifier_reset(trained)
    digits = load_split("mnist", "test", mnist_model.data_dir).images[:DIGITS].numpy()
    rows = [digit_figures(trained, reset, pixels) for pixels in digits]
    return {key: statistics.median(row[key] for row in rows) for key in rows[0]}


@pytest.mark.slow
@pytest.mark.parametrize("key", ["ig_reset", "cam_reset"])
def test_the_maps_change_when_the_classifier_is_reinitialised(figures, key):
    assert figures[key] < CHANGED


@pytest.mark.slow
@pytest.mark.parametrize("key", ["ig_classes", "cam_classes"])
def test_the_evidence_for_two_classes_differs(figures, key):
    assert figures[key] < CHANGED


@pytest.mark.slow
def test_the_positive_evidence_lies_on_or_next_to_the_strokes_more_than_chance(figures):
    # from the black baseline every bit of it is on the ink, by construction (IG is 0 where x = baseline)
    assert figures["ig_black"] == 1.0
    # from grey, the share near the ink is a median 1.67 times the mask's share of the image over 300
    # digits (single digits 1.42 to 2.07), Grad-CAM's 1.35 times (0.75 to 2.3): both must beat chance
    assert figures["ig_grey_over_chance"] > 1.3
    assert figures["cam_over_chance"] > 1.0
