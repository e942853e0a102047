"""Choosing the operating point, and the curves it moves along.

A case is called PNEUMONIA when ``probability >= threshold`` (as in
``training.metrics.binary``). Thresholds are chosen on validation rows only: picking
them on test would make the test figures optimistic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.core.tasks import PNEUMONIA

DEFAULT_THRESHOLD = 0.5  # the operating point of a run that chose none


def _as_arrays(labels, probabilities) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(int)
    p = np.asarray(probabilities, dtype=float)
    if y.shape != p.shape or y.ndim != 1:
        raise ValueError("labels and probabilities must be 1-D and of equal length")
    return y, p


def _sklearn_scores(p: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores scikit-learn accepts, and the table that reads its thresholds back (None: they are the scores).

    scikit-learn refuses NaN, which a diverged model gives. The curves have always
    put NaN below every score, so such scores become order-keeping codes, NaN lowest.
    """
    if np.isfinite(p).all():
        return p, None
    known = ~np.isnan(p)
    values = np.unique(p[known])
    codes = np.where(known, np.searchsorted(values, p) + 1, 0).astype(float)
    return codes, np.r_[np.nan, values]


def _read_back(thresholds: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    if table is None:
        return thresholds
    finite = np.isfinite(thresholds)  # roc_curve's first threshold is +inf, not a code
    out = thresholds.copy()
    out[finite] = table[thresholds[finite].astype(int)]
    return out


def roc_curve(labels, probabilities) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), starting at (0, 0) with threshold +inf, then one point per
    distinct score from high to low (tied cases flip together): scikit-learn's curve with
    every point kept, which the threshold rules need."""
    from sklearn.metrics import roc_curve as sklearn_roc_curve  # lazy: sklearn.metrics takes ~1 s to import

    y, p = _as_arrays(labels, probabilities)
    n_pos = int((y == 1).sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError("an ROC curve needs both classes")
    scores, table = _sklearn_scores(p)
    fpr, tpr, thr = sklearn_roc_curve(y, scores, drop_intermediate=False)
    return fpr, tpr, _read_back(thr, table)


def pr_curve(labels, probabilities) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall, precision, thresholds) for each distinct score from high to low.

    scikit-learn's curve, turned to run from high thresholds to low, without the
    (recall 0, precision 1) end point it appends, which no threshold reaches.
    """
    from sklearn.metrics import precision_recall_curve  # lazy: sklearn.metrics takes ~1 s to import

    y, p = _as_arrays(labels, probabilities)
    if not (y == 1).any():
        raise ValueError("a PR curve needs positive cases")
    scores, table = _sklearn_scores(p)
    precision, recall, thr = precision_recall_curve(y, scores)
    return recall[-2::-1], precision[-2::-1], _read_back(thr[::-1], table)


def youden(labels, probabilities) -> float:
    """The threshold maximising sensitivity + specificity - 1 (ties: the higher threshold)."""
    fpr, tpr, thr = roc_curve(labels, probabilities)
    j = tpr - fpr
    best = int(np.argmax(j[1:])) + 1  # skip the +inf point: it calls nobody positive
    return float(thr[best])


def threshold_for_sensitivity(labels, probabilities, min_sensitivity: float) -> float:
    """The highest threshold whose sensitivity is at least ``min_sensitivity``.

    The highest one keeps the most specificity: a screening operating point
    misses few cases and raises as few false alarms as that allows.
    """
    if not 0.0 < min_sensitivity <= 1.0:
        raise ValueError(f"sensitivity must be in (0, 1], got {min_sensitivity}")
    _, tpr, thr = roc_curve(labels, probabilities)
    reaching = np.flatnonzero(tpr >= min_sensitivity - 1e-12)
    return float(thr[reaching[0]])


CENTRE = "-centre"  # a rule's stable form: the centre, in logits, of its flat optimum


def parse_threshold_rule(rule: str) -> tuple[str, float | None]:
    """A recipe's ``threshold`` key: ("fixed", t) for a number in [0, 1], ("youden", None),
    ("sensitivity", s) for "sensitivity>=s", and ("youden-centre", None) / ("sensitivity-centre", s) for
    their stable forms (``flat_optimum``). ValueError says what is accepted."""
    text = str(rule).strip().lower().replace(" ", "")
    centre = text.endswith(CENTRE)
    text = text.removesuffix(CENTRE)
    if text == "youden":
        return "youden" + (CENTRE if centre else ""), None
    if text.startswith("sensitivity>="):
        value = _fraction(text.removeprefix("sensitivity>="))
        if value is not None and value > 0:
            return "sensitivity" + (CENTRE if centre else ""), value
    elif not centre:
        value = _fraction(text)
        if value is not None:
            return "fixed", value
    raise ValueError(f'{rule!r} is not a threshold rule: give a number in [0, 1], "youden", "sensitivity>=0.95", '
                     'or "youden-centre" / "sensitivity>=0.95-centre" (the centre of the flat optimum)')


def _fraction(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def choose_threshold(rule: str, labels, probabilities, where: str = "val") -> tuple[float, str]:
    """``(threshold, how)`` for ``rule`` on the labels and probabilities of ``where`` (validation, or a site's sample).

    A rule that needs both classes falls back to 0.5 (and says so) when they lack one.
    """
    kind, value = parse_threshold_rule(rule)
    if kind == "fixed":
        return value, "fixed by the recipe"
    labels = np.asarray(labels).astype(int)
    if labels.min(initial=1) == labels.max(initial=0):
        return DEFAULT_THRESHOLD, f"{rule} impossible ({where} has one class): 0.5"
    if kind == "youden":
        return youden(labels, probabilities), f"youden on {where}"
    if kind == "sensitivity":
        return threshold_for_sensitivity(labels, probabilities, value), f"sensitivity>={value:g} on {where}"
    flat = flat_optimum(labels, probabilities, value)
    name = "youden" if kind == "youden-centre" else f"sensitivity>={value:g}"
    return flat.centre, f"{name}-centre on {where}"


# ----------------------------------------------------------------------------- where the optimum is flat

FLAT_TOLERANCE = 0.01  # a threshold is as good as the best when its score is within this (one point of sens + spec)
_EDGE = 1e-6  # probabilities clipped this far from 0 and 1 before their logits are taken


def logit(p):
    p = np.clip(np.asarray(p, dtype=float), _EDGE, 1 - _EDGE)
    return np.log(p / (1 - p))


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


@dataclass(frozen=True)
class FlatOptimum:
    """The thresholds whose score is within ``tolerance`` of a rule's best, and the point chosen among them."""

    rule: str  # "youden" or "sensitivity>=S"
    best: float  # the best score: Youden's J, or the specificity at the required sensitivity
    tolerance: float
    low: float  # lowest and highest threshold of the flat optimum (distinct scores of the sample)
    high: float
    edge: float  # what the plain rule chooses (an edge of the interval)
    centre: float  # the interval's centre in logit space: the stable choice

    @property
    def width_logits(self) -> float:
        return float(logit(self.high) - logit(self.low))


def flat_optimum(labels, probabilities, min_sensitivity: float | None = None,
                 tolerance: float = FLAT_TOLERANCE) -> FlatOptimum:
    """Youden's flat optimum (or, with ``min_sensitivity``, the one of specificity among thresholds that keep it).

    On a nearly separable validation split J is at its best over a wide interval of thresholds, and the plain rule
    takes one edge of it; the centre of the interval in logits moves far less when the sample changes."""
    fpr, tpr, thr = roc_curve(labels, probabilities)
    fpr, tpr, thr = fpr[1:], tpr[1:], thr[1:]  # skip the +inf point: it calls nobody positive
    if min_sensitivity is None:
        score, allowed, rule = tpr - fpr, np.ones(len(thr), dtype=bool), "youden"
        edge = youden(labels, probabilities)
    else:
        score, allowed = 1 - fpr, tpr >= min_sensitivity - 1e-12
        rule = f"sensitivity>={min_sensitivity:g}"
        edge = threshold_for_sensitivity(labels, probabilities, min_sensitivity)
    best = float(score[allowed].max())
    flat = thr[allowed & (score >= best - tolerance - 1e-12)]
    low, high = float(flat.min()), float(min(flat.max(), 1.0))
    centre = float(sigmoid((logit(low) + logit(high)) / 2))
    return FlatOptimum(rule, best, tolerance, low, high, float(edge), centre)


def threshold_spread(rule: str, labels, probabilities, n_boot: int = 1000, seed: int = 0) -> float:
    """The standard deviation, in logits, of the threshold ``rule`` chooses over stratified bootstrap resamples
    (how far it would move on another sample of the same kind). Vectorised: one pass over the sorted scores
    per replicate, as ``choose_threshold`` would choose on the resample itself."""
    kind, value = parse_threshold_rule(rule)
    if kind == "fixed":
        return 0.0
    y, p = _as_arrays(labels, probabilities)
    order = np.argsort(-p, kind="mergesort")
    y_sorted, p_sorted = y[order], p[order]
    last = np.r_[np.flatnonzero(np.diff(p_sorted)), len(p_sorted) - 1]  # last case of each run of equal scores
    thresholds = p_sorted[last]
    rng = np.random.default_rng(seed)
    pos, neg = y_sorted == 1, y_sorted == 0
    weights = np.zeros((n_boot, len(y_sorted)))
    weights[:, pos] = rng.multinomial(int(pos.sum()), np.full(int(pos.sum()), 1 / pos.sum()), size=n_boot)
    weights[:, neg] = rng.multinomial(int(neg.sum()), np.full(int(neg.sum()), 1 / neg.sum()), size=n_boot)
    tpr = np.cumsum(weights * pos, axis=1)[:, last] / pos.sum()
    fpr = np.cumsum(weights * neg, axis=1)[:, last] / neg.sum()
    drawn = np.cumsum(weights, axis=1)[:, last]
    present = np.diff(np.c_[np.zeros(n_boot), drawn], axis=1) > 0  # the replicate holds a case at this score
    if kind.startswith("youden"):
        score, allowed = tpr - fpr, present
    else:
        score, allowed = 1 - fpr, present & (tpr >= value - 1e-12)
    score = np.where(allowed, score, -np.inf)
    best = score.max(axis=1, keepdims=True)
    if not kind.endswith(CENTRE):
        chosen = thresholds[np.argmax(score, axis=1)]  # first best: the highest threshold, as the plain rules
    else:
        flat = score >= best - FLAT_TOLERANCE - 1e-12
        high = thresholds[np.argmax(flat, axis=1)]
        low = thresholds[len(thresholds) - 1 - np.argmax(flat[:, ::-1], axis=1)]
        chosen = sigmoid((logit(low) + logit(np.minimum(high, 1.0))) / 2)
    return float(np.std(logit(chosen), ddof=1))


def rule_stability(rule: str, labels, probabilities) -> dict:
    """The flat optimum of ``rule``'s family on these images, and the bootstrap spread of ``rule``'s choice."""
    kind, value = parse_threshold_rule(rule)
    if kind == "fixed" or len(set(map(int, labels))) < 2:
        return {}
    flat = flat_optimum(labels, probabilities, value)
    return {"flat_rule": flat.rule, "flat_low": flat.low, "flat_high": flat.high, "flat_centre": flat.centre,
            "flat_width_logits": flat.width_logits, "flat_tolerance": flat.tolerance,
            "spread_logits": threshold_spread(rule, labels, probabilities)}


# ----------------------------------------------------------------------------- how much an operating point stands on

# Fewer validation images than this (or of one class than the second), and an operating point's sensitivity and
# specificity are too uncertain to act on: with 30 cases of a class, a 95% interval is still about +-0.15 wide.
CLASSES = PNEUMONIA.classes  # the pneumonia task's (negative, positive): the words' default
MIN_SUPPORT_IMAGES = 100
MIN_SUPPORT_PER_CLASS = 30
_Z95 = 1.959963984540054


def wilson_interval(successes: int, n: int) -> tuple[float | None, float | None]:
    """The 95% Wilson score interval of a proportion (better than the normal one for small n or p near 0 or 1)."""
    if n <= 0:
        return None, None
    p, z2 = successes / n, _Z95 * _Z95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = _Z95 * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denominator
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def operating_point_support(labels, probabilities, threshold: float, classes: tuple[str, str] = CLASSES) -> dict:
    """How many images an operating point stands on, its sensitivity and specificity there with 95% intervals,
    and a warning in words when they are too few (``None`` otherwise). ``classes``: the task's (negative,
    positive) class names, for the words."""
    y, p = _as_arrays(labels, probabilities)
    called = p >= threshold
    n_pos, n_neg = int(y.sum()), int(len(y) - y.sum())
    tp, tn = int((called & (y == 1)).sum()), int((~called & (y == 0)).sum())
    figures = {}
    for name, hits, total in (("sensitivity", tp, n_pos), ("specificity", tn, n_neg)):
        low, high = wilson_interval(hits, total)
        figures[name] = {"value": hits / total if total else None, "low": low, "high": high}
    return {"n": len(y), "n_positive": n_pos, "n_negative": n_neg, **figures, "classes": list(classes),
            "warning": support_warning(len(y), n_pos, n_neg, classes)}


def support_warning(n: int, n_positive: int, n_negative: int, classes: tuple[str, str] = CLASSES) -> str | None:
    """The words that say an operating point stands on too few images, or None when it stands on enough."""
    if n >= MIN_SUPPORT_IMAGES and min(n_positive, n_negative) >= MIN_SUPPORT_PER_CLASS:
        return None
    return (f"this operating point stands on only {n} images ({n_negative} {classes[0]}, {n_positive} {classes[1]}; "
            f"trust needs at least {MIN_SUPPORT_IMAGES}, {MIN_SUPPORT_PER_CLASS} of each class): its sensitivity "
            "and specificity may be far from what it gives on new films, see the intervals")
