"""The scikit-learn metrics give the values of the hand-written code they replaced.

Each expected number comes from a brute-force reference written here (pairwise
counting for the AUC, the metrics at every distinct score for the curves), on
seeded random inputs, with and without ties.
"""

import numpy as np
import pytest

from training.metrics.binary import binary_metrics, confusion, roc_auc
from training.metrics.bootstrap import _mann_whitney_auc
from training.metrics.thresholds import pr_curve, roc_curve, threshold_for_sensitivity, youden


def _inputs():
    rng = np.random.default_rng(20240611)
    out = []
    for n, kind in ((40, "continuous"), (200, "continuous"), (60, "tenths"), (150, "hundredths"), (50, "three levels"),
                    (30, "rare positives")):
        labels = rng.integers(0, 2, n) if kind != "rare positives" else (rng.random(n) < 0.1).astype(int)
        labels[:2] = (0, 1)  # both classes, always
        probs = rng.random(n)
        if kind == "tenths":
            probs = np.round(probs, 1)
        elif kind == "hundredths":
            probs = np.round(probs, 2)
        elif kind == "three levels":
            probs = rng.integers(0, 3, n) / 2
        out.append(pytest.param(labels, probs, id=f"{kind}-{n}"))
    return out


CASES = _inputs()


def pairwise_auc(labels, probs) -> float:
    pos, neg = probs[labels == 1], probs[labels == 0]
    wins = sum(float(p > q) + 0.5 * float(p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def rates_at(labels, probs, t) -> tuple[float, float, float | None]:
    """(sensitivity, 1 - specificity, precision) when probability >= t is positive."""
    called = probs >= t
    tp, fp = int((called & (labels == 1)).sum()), int((called & (labels == 0)).sum())
    return tp / (labels == 1).sum(), fp / (labels == 0).sum(), (tp / (tp + fp) if tp + fp else None)


@pytest.mark.parametrize(("labels", "probs"), CASES)
def test_auc_is_the_pairwise_share_with_ties_half(labels, probs):
    expected = pairwise_auc(labels, probs)
    assert roc_auc(labels, probs) == pytest.approx(expected, abs=1e-12)
    assert _mann_whitney_auc(np.r_[probs[labels == 1], probs[labels == 0]], int(labels.sum())) == pytest.approx(
        expected, abs=1e-12)


@pytest.mark.parametrize(("labels", "probs"), CASES)
def test_roc_curve_has_one_point_per_distinct_score(labels, probs):
    fpr, tpr, thr = roc_curve(labels, probs)
    distinct = np.unique(probs)[::-1]
    assert thr[0] == np.inf and (fpr[0], tpr[0]) == (0.0, 0.0)
    np.testing.assert_array_equal(thr[1:], distinct)  # every distinct score kept, high to low
    for f, t, th in zip(fpr[1:], tpr[1:], thr[1:], strict=True):
        sens, one_minus_spec, _ = rates_at(labels, probs, th)
        assert (t, f) == (sens, one_minus_spec)
    assert np.trapezoid(tpr, fpr) == pytest.approx(pairwise_auc(labels, probs), abs=1e-12)


@pytest.mark.parametrize(("labels", "probs"), CASES)
def test_pr_curve_runs_from_high_thresholds_to_low(labels, probs):
    recall, precision, thr = pr_curve(labels, probs)
    np.testing.assert_array_equal(thr, np.unique(probs)[::-1])  # no appended (0, 1) end point
    for r, p, th in zip(recall, precision, thr, strict=True):
        sens, _, prec = rates_at(labels, probs, th)
        assert (r, p) == (sens, prec)


@pytest.mark.parametrize(("labels", "probs"), CASES)
def test_threshold_rules_against_every_distinct_score(labels, probs):
    distinct = np.unique(probs)[::-1]  # high to low
    j = [rates_at(labels, probs, t)[0] - rates_at(labels, probs, t)[1] for t in distinct]
    assert youden(labels, probs) == distinct[int(np.argmax(j))]  # first maximum = the higher threshold on a tie
    for target in (0.5, 0.8, 0.95, 1.0):
        reaching = [t for t in distinct if rates_at(labels, probs, t)[0] >= target]
        assert threshold_for_sensitivity(labels, probs, target) == max(reaching)


@pytest.mark.parametrize(("labels", "probs"), CASES)
def test_confusion_counts(labels, probs):
    for t in (0.0, 0.25, 0.5, 0.7, 1.0):
        called = [p >= t for p in probs]
        expected = {
            "tp": sum(c and y == 1 for c, y in zip(called, labels, strict=True)),
            "fp": sum(c and y == 0 for c, y in zip(called, labels, strict=True)),
            "tn": sum(not c and y == 0 for c, y in zip(called, labels, strict=True)),
            "fn": sum(not c and y == 1 for c, y in zip(called, labels, strict=True)),
        }
        got = confusion(labels, probs, t)
        assert got == expected and all(type(v) is int for v in got.values())


def test_youden_tie_goes_to_the_higher_threshold():
    # J = 0.5 at 0.8 (sens .5, spec 1) and at 0.4 (sens 1, spec .5)
    assert youden([0, 0, 1, 1], [0.1, 0.6, 0.4, 0.8]) == 0.8


def test_one_class_and_no_cases():
    assert roc_auc([1, 1, 1], [0.2, 0.5, 0.9]) is None and roc_auc([0, 0], [0.2, 0.5]) is None
    with pytest.raises(ValueError, match="both classes"):
        roc_curve([0, 0], [0.2, 0.5])
    with pytest.raises(ValueError, match="positive cases"):
        pr_curve([0, 0], [0.2, 0.5])
    recall, precision, thr = pr_curve([1, 1, 1], [0.2, 0.5, 0.5])  # positives only: precision 1 throughout
    assert list(thr) == [0.5, 0.2] and list(recall) == pytest.approx([2 / 3, 1]) and list(precision) == [1, 1]
    assert confusion([], []) == {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    m = binary_metrics([], [])
    assert m["n"] == 0 and m["accuracy"] is None and m["auc"] is None


def test_nan_scores_of_a_diverged_model_do_not_raise():
    # scikit-learn refuses NaN; as before, the AUC ranks NaN above every score (tied), the curves below
    labels = np.array([0, 1, 1, 0, 1, 0, 1])
    probs = np.array([0.2, 0.8, np.nan, 0.5, np.nan, 0.1, 0.7])
    as_highest = np.where(np.isnan(probs), 2.0, probs)
    assert roc_auc(labels, probs) == pytest.approx(pairwise_auc(labels, as_highest), abs=1e-12)
    fpr, tpr, thr = roc_curve(labels, probs)
    assert list(thr[1:6]) == [0.8, 0.7, 0.5, 0.2, 0.1] and np.isnan(thr[6]) and len(thr) == 7
    assert (fpr[5], tpr[5]) == (1.0, 0.5) and (fpr[6], tpr[6]) == (1.0, 1.0)  # the NaN cases flip last, together
    recall, precision, thr = pr_curve(labels, probs)
    assert list(thr[:5]) == [0.8, 0.7, 0.5, 0.2, 0.1] and np.isnan(thr[5]) and len(thr) == 6
    assert youden(labels, probs) == 0.7
    assert binary_metrics(labels, probs, 0.5)["confusion"] == {"tp": 2, "fp": 1, "tn": 2, "fn": 2}


def test_sklearn_is_imported_only_when_a_metric_is_computed():
    # import sklearn.metrics takes about a second; the CLI, the app and its screens import these modules
    import subprocess
    import sys

    code = ("import sys, pneumo_tui.cli, pneumo_tui.app, pneumo_tui.screens.evaluation, pneumo_tui.screens.review, "
            "training.metrics.binary, training.metrics.thresholds, training.metrics.bootstrap, "
            "training.run.operating_point; print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
