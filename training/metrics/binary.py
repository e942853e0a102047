"""Binary classification metrics at a threshold, with PNEUMONIA as the positive class."""

from __future__ import annotations

import numpy as np


def confusion(labels, probabilities, threshold: float = 0.5) -> dict:
    y = np.asarray(labels).astype(int)
    pred = (np.asarray(probabilities, dtype=float) >= threshold).astype(int)
    return {
        "tp": int(((pred == 1) & (y == 1)).sum()),
        "fp": int(((pred == 1) & (y == 0)).sum()),
        "tn": int(((pred == 0) & (y == 0)).sum()),
        "fn": int(((pred == 0) & (y == 1)).sum()),
    }


def roc_auc(labels, probabilities) -> float | None:
    """Mann-Whitney AUC with ties counted half; None when one class is absent."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probabilities, dtype=float)
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = p.argsort(kind="mergesort")
    ranks = np.empty(len(p), dtype=float)
    sorted_p = p[order]
    # average ranks over ties
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


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
