"""Bootstrap 95% confidence intervals for accuracy, sensitivity, specificity and AUC.

Resampling is stratified: positives and negatives are resampled separately,
so every replicate keeps the test set's class balance (and always has both
classes, which sensitivity, specificity and AUC need). Seeded, vectorised.
"""

from __future__ import annotations

import numpy as np

from training.metrics.binary import binary_metrics

METRICS = ("accuracy", "sensitivity", "specificity", "auc")
_PAIRWISE_LIMIT = 4_000_000  # positives x negatives above this: AUC per replicate by ranks


def _pairwise_wins(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """psi[i, j] = 1 if positive i outranks negative j, 0.5 on a tie."""
    return (pos[:, None] > neg[None, :]).astype(np.float32) + np.float32(0.5) * (pos[:, None] == neg[None, :])


def _resampled_counts(rng: np.random.Generator, size: int, n_boot: int) -> np.ndarray:
    """How often each case is drawn in each replicate, shape (n_boot, size)."""
    return rng.multinomial(size, np.full(size, 1.0 / size), size=n_boot).astype(np.float32)


def _auc_by_ranks(pos: np.ndarray, neg: np.ndarray, w_pos: np.ndarray, w_neg: np.ndarray) -> np.ndarray:
    from training.metrics.binary import roc_auc

    labels = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    scores = np.r_[pos, neg]
    out = np.empty(len(w_pos))
    for b in range(len(w_pos)):
        counts = np.r_[w_pos[b], w_neg[b]].astype(int)
        out[b] = roc_auc(np.repeat(labels, counts), np.repeat(scores, counts))
    return out


def bootstrap_cis(labels, probabilities, threshold: float = 0.5, n_boot: int = 2000,
                  seed: int = 0, level: float = 0.95) -> dict:
    """{metric: {"value", "low", "high"}} with percentile intervals; ``n_boot`` replicates."""
    y = np.asarray(labels).astype(int)
    p = np.asarray(probabilities, dtype=float)
    pos, neg = p[y == 1], p[y == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("bootstrap intervals need both classes")
    rng = np.random.default_rng(seed)
    w_pos = _resampled_counts(rng, len(pos), n_boot)
    w_neg = _resampled_counts(rng, len(neg), n_boot)

    tp = w_pos @ (pos >= threshold).astype(np.float32)
    tn = w_neg @ (neg < threshold).astype(np.float32)
    replicates = {
        "sensitivity": tp / len(pos),
        "specificity": tn / len(neg),
        "accuracy": (tp + tn) / (len(pos) + len(neg)),
    }
    if len(pos) * len(neg) <= _PAIRWISE_LIMIT:
        psi = _pairwise_wins(pos, neg)
        replicates["auc"] = np.einsum("bi,ij,bj->b", w_pos, psi, w_neg, optimize=True) / (len(pos) * len(neg))
    else:
        replicates["auc"] = _auc_by_ranks(pos, neg, w_pos, w_neg)

    point = binary_metrics(y, p, threshold)
    tail = (1.0 - level) / 2.0 * 100.0
    return {
        name: {
            "value": point[name],
            "low": float(np.percentile(replicates[name], tail)),
            "high": float(np.percentile(replicates[name], 100.0 - tail)),
        }
        for name in METRICS
    } | {"n_boot": n_boot, "level": level, "seed": seed}
