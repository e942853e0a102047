"""Binary classification metrics at a threshold, with PNEUMONIA as the positive class.

The confusion matrix and ROC AUC are scikit-learn's, the field's reference. It is
imported inside the functions: ``import sklearn.metrics`` takes about a second, and
this module is reached by the app's screens and the CLI, which must start fast.
"""

from __future__ import annotations

import numpy as np


def confusion(labels, probabilities, threshold: float = 0.5) -> dict:
    """``{"tp", "fp", "tn", "fn"}`` when ``probability >= threshold`` is called PNEUMONIA (label 1)."""
    from sklearn.metrics import confusion_matrix  # lazy: sklearn.metrics takes ~1 s to import

    y = np.asarray(labels).astype(int)
    pred = (np.asarray(probabilities, dtype=float) >= threshold).astype(int)
    if y.size == 0:  # sklearn refuses empty input; no cases is no counts
        return {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    (tn, fp), (fn, tp) = confusion_matrix(y, pred, labels=[0, 1])
    return {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)}


def roc_auc(labels, probabilities) -> float | None:
    """ROC AUC (ties count half, as in Mann-Whitney); None when one class is absent."""
    from sklearn.metrics import roc_auc_score  # lazy: sklearn.metrics takes ~1 s to import

    y = np.asarray(labels).astype(int)
    n_pos = int((y == 1).sum())
    if n_pos == 0 or n_pos == y.size:
        return None
    p = np.asarray(probabilities, dtype=float)
    if not np.isfinite(p).all():
        # scikit-learn refuses NaN, which a diverged model gives; the AUC depends only on the
        # order, and NaN has always ranked (tied) above every score here: rank codes keep that
        p = np.unique(p, return_inverse=True)[1].astype(float)
    return float(roc_auc_score(y, p))


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def binary_metrics(labels, probabilities, threshold: float = 0.5) -> dict:
    """accuracy, sensitivity (recall), specificity, precision (PPV), NPV, F1, AUC,
    the confusion counts, the threshold and n. A ratio with no denominator is None."""
    c = confusion(labels, probabilities, threshold)
    tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
    n = tp + fp + tn + fn
    precision = _ratio(tp, tp + fp)
    sensitivity = _ratio(tp, tp + fn)
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return {
        "accuracy": _ratio(tp + tn, n),
        "sensitivity": sensitivity,
        "specificity": _ratio(tn, tn + fp),
        "precision": precision,
        "npv": _ratio(tn, tn + fn),
        "f1": f1,
        "auc": roc_auc(labels, probabilities),
        "confusion": c,
        "threshold": float(threshold),
        "n": n,
    }
