"""Is model A really better than model B on the same images?

Both tests are paired: they use that the two models saw the same cases, which
is far more sensitive than comparing two independent accuracies.

- McNemar's test for accuracy looks only at the discordant cases (one model
  right, the other wrong). Exact binomial when they are few, chi-square with
  continuity correction otherwise.
- DeLong's test for two correlated ROC AUCs, in the fast midrank form of
  Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the
  areas under correlated receiver operating characteristic curves".
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

EXACT_BELOW = 25  # discordant pairs under this use the exact binomial test


def mcnemar(correct_a, correct_b) -> dict:
    """Paired test of accuracy; ``correct_*`` are booleans per case, same order."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError("both models must be scored on the same cases")
    only_a = int((a & ~b).sum())  # A right, B wrong
    only_b = int((~a & b).sum())
    discordant = only_a + only_b
    if discordant == 0:
        statistic, p_value, method = 0.0, 1.0, "no discordant cases"
    elif discordant < EXACT_BELOW:
        # two-sided exact binomial: under H0 each discordant case is a fair coin
        statistic = float(min(only_a, only_b))
        p_value = min(1.0, 2.0 * float(stats.binom.cdf(min(only_a, only_b), discordant, 0.5)))
        method = "exact binomial"
    else:
        statistic = (abs(only_a - only_b) - 1.0) ** 2 / discordant
        p_value = float(stats.chi2.sf(statistic, df=1))
        method = "chi-square with continuity correction"
    return {
        "n": int(a.size),
        "accuracy_a": float(a.mean()) if a.size else None,
        "accuracy_b": float(b.mean()) if b.size else None,
        "a_right_b_wrong": only_a,
        "b_right_a_wrong": only_b,
        "statistic": float(statistic),
        "p_value": float(p_value),
        "method": method,
    }


def midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties given their average rank."""
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    _, first, counts = np.unique(sorted_x, return_index=True, return_counts=True)
    ranks = np.empty(len(x), dtype=float)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def delong_components(labels, scores_by_model) -> tuple[np.ndarray, np.ndarray]:
    """AUCs (k,) and their covariance matrix (k, k) for k models on the same cases."""
    y = np.asarray(labels).astype(int)
    scores = np.atleast_2d(np.asarray(scores_by_model, dtype=float))
    if scores.shape[1] != y.size:
        raise ValueError("each model needs one score per case")
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    m, n = pos.shape[1], neg.shape[1]
    if m < 2 or n < 2:
        raise ValueError("DeLong's test needs at least two cases of each class")
    k = scores.shape[0]
    aucs = np.empty(k)
    v_pos = np.empty((k, m))  # per positive: share of negatives it outranks
    v_neg = np.empty((k, n))  # per negative: share of positives that outrank it
    for r in range(k):
        rank_pos, rank_neg = midranks(pos[r]), midranks(neg[r])
        rank_all = midranks(np.r_[pos[r], neg[r]])
        aucs[r] = (rank_all[:m].sum() - m * (m + 1) / 2.0) / (m * n)
        v_pos[r] = (rank_all[:m] - rank_pos) / n
        v_neg[r] = 1.0 - (rank_all[m:] - rank_neg) / m
    cov = np.atleast_2d(np.cov(v_pos)) / m + np.atleast_2d(np.cov(v_neg)) / n
    return aucs, cov


def delong(labels, scores_a, scores_b) -> dict:
    """Two-sided DeLong test of AUC(A) == AUC(B) on the same cases."""
    aucs, cov = delong_components(labels, [scores_a, scores_b])
    var = cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1]
    diff = float(aucs[0] - aucs[1])
    if var <= 0:
        # identical rankings: no evidence of a difference
        z, p_value = 0.0, 1.0
    else:
        z = diff / math.sqrt(var)
        p_value = float(2.0 * stats.norm.sf(abs(z)))
    return {
        "n": int(np.asarray(labels).size),
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": diff,
        "se": float(math.sqrt(max(var, 0.0))),
        "z": float(z),
        "p_value": float(p_value),
        "method": "DeLong (fast midrank, Sun & Xu 2014)",
    }


def auc_variance(labels, scores) -> float:
    """DeLong variance of one AUC (used for a normal-approximation interval)."""
    _, cov = delong_components(labels, [scores])
    return float(cov[0, 0])
