"""The stable threshold rule: the centre, in logits, of the interval where the rule's score is within a tolerance of
its best, and how far a rule's choice moves over bootstrap resamples."""

from __future__ import annotations

import numpy as np
import pytest

from training.metrics.thresholds import (
    FLAT_TOLERANCE,
    choose_threshold,
    flat_optimum,
    logit,
    parse_threshold_rule,
    threshold_spread,
)


def nearly_separable(seed=0, n_pos=380, n_neg=136):
    rng = np.random.default_rng(seed)
    y = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(int)
    z = np.r_[rng.normal(4, 1.5, n_pos), rng.normal(-4, 1.5, n_neg)]
    return y, np.round(1 / (1 + np.exp(-z)), 5)


def youden_j(y, p, t):
    called = p >= t
    return called[y == 1].mean() - called[y == 0].mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_stable_threshold_lies_inside_the_flat_interval_at_its_logit_centre(seed):
    y, p = nearly_separable(seed)
    flat = flat_optimum(y, p)
    assert flat.low <= flat.centre <= flat.high
    assert logit(flat.centre) == pytest.approx((logit(flat.low) + logit(flat.high)) / 2)
    best = max(youden_j(y, p, t) for t in np.unique(p))
    assert flat.best == pytest.approx(best)
    for t in (flat.low, flat.high):  # both ends are as good as the best, within the tolerance
        assert youden_j(y, p, t) >= best - FLAT_TOLERANCE - 1e-9
    # the plain rule takes an edge of it: the highest threshold with the best J
    assert flat.edge == choose_threshold("youden", y, p)[0] and flat.low <= flat.edge <= flat.high
    assert choose_threshold("youden-centre", y, p) == (flat.centre, "youden-centre on val")


def test_the_sensitivity_rule_has_a_stable_form_that_keeps_its_sensitivity():
    y, p = nearly_separable()
    flat = flat_optimum(y, p, min_sensitivity=0.95)
    assert flat.rule == "sensitivity>=0.95" and flat.low <= flat.centre <= flat.high
    assert (p[y == 1] >= flat.centre).mean() >= 0.95  # every threshold of that flat optimum keeps the sensitivity
    assert choose_threshold("sensitivity>=0.95-centre", y, p)[0] == flat.centre


def test_the_centre_moves_less_over_resamples_than_the_edge_on_a_flat_optimum():
    y, p = nearly_separable()
    assert threshold_spread("youden-centre", y, p) < threshold_spread("youden", y, p)
    assert threshold_spread("0.5", y, p) == 0.0


def test_threshold_spread_matches_choosing_on_each_resample():
    y, p = nearly_separable(3, 120, 60)
    rng = np.random.default_rng(11)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    for rule in ("youden", "youden-centre", "sensitivity>=0.9", "sensitivity>=0.9-centre"):
        chosen = [choose_threshold(rule, y[i], p[i])[0]
                  for i in (np.r_[rng.choice(pos, len(pos)), rng.choice(neg, len(neg))] for _ in range(250))]
        reference = float(np.std(logit(chosen), ddof=1))
        assert threshold_spread(rule, y, p, n_boot=1000) == pytest.approx(reference, rel=0.2), rule


def test_rules_parse_with_their_stable_forms():
    assert parse_threshold_rule("youden-centre") == ("youden-centre", None)
    assert parse_threshold_rule("sensitivity>=0.95-centre") == ("sensitivity-centre", 0.95)
    with pytest.raises(ValueError):
        parse_threshold_rule("0.5-centre")
