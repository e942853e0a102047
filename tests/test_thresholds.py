"""Operating points chosen from the ROC curve."""

import numpy as np
import pytest

from training.metrics.binary import binary_metrics, roc_auc
from training.metrics.thresholds import pr_curve, roc_curve, threshold_for_sensitivity, youden

LABELS = [0, 0, 0, 0, 1, 1, 1, 1]
PROBS = [0.1, 0.3, 0.35, 0.6, 0.4, 0.7, 0.8, 0.9]


def test_roc_curve_points_and_area():
    fpr, tpr, thr = roc_curve(LABELS, PROBS)
    assert thr[0] == np.inf and (fpr[0], tpr[0]) == (0, 0) and (fpr[-1], tpr[-1]) == (1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(LABELS, PROBS))
    # each point is the metrics at its threshold
    for f, t, th in zip(fpr[1:], tpr[1:], thr[1:], strict=True):
        m = binary_metrics(LABELS, PROBS, th)
        assert (t, 1 - f) == pytest.approx((m["sensitivity"], m["specificity"]))


def test_ties_move_together():
    fpr, tpr, thr = roc_curve([0, 1, 1, 0], [0.5, 0.5, 0.9, 0.1])
    assert list(thr[1:]) == [0.9, 0.5, 0.1]
    assert list(zip(fpr, tpr, strict=True)) == [(0, 0), (0, 0.5), (0.5, 1), (1, 1)]


def test_pr_curve():
    recall, precision, thr = pr_curve(LABELS, PROBS)
    m = binary_metrics(LABELS, PROBS, thr[3])
    assert (recall[3], precision[3]) == pytest.approx((m["sensitivity"], m["precision"]))


def test_youden_maximises_j():
    t = youden(LABELS, PROBS)
    # by hand: t=0.7 -> sens .75 spec 1 (J=.75); t=0.4 -> sens 1, spec .75 (J=.75); tie -> higher threshold
    assert t == 0.7
    best = max(binary_metrics(LABELS, PROBS, th)["sensitivity"] + binary_metrics(LABELS, PROBS, th)["specificity"]
               for th in PROBS)
    m = binary_metrics(LABELS, PROBS, t)
    assert m["sensitivity"] + m["specificity"] == pytest.approx(best)


def test_threshold_for_sensitivity_keeps_most_specificity():
    t = threshold_for_sensitivity(LABELS, PROBS, 0.95)
    assert t == 0.4  # the highest threshold catching all four positives
    assert binary_metrics(LABELS, PROBS, t)["sensitivity"] == 1.0
    assert threshold_for_sensitivity(LABELS, PROBS, 0.5) == 0.8
    with pytest.raises(ValueError):
        threshold_for_sensitivity(LABELS, PROBS, 1.5)
