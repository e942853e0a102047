"""Bootstrap intervals against the normal approximation on a large sample."""

import math

import numpy as np
import pytest

from training.metrics.bootstrap import bootstrap_cis
from training.metrics.significance import auc_variance


@pytest.fixture(scope="module")
def large_sample():
    rng = np.random.default_rng(0)
    n_pos, n_neg = 1200, 800
    labels = np.r_[np.ones(n_pos, int), np.zeros(n_neg, int)]
    scores = np.r_[rng.normal(1.2, 1, n_pos), rng.normal(0, 1, n_neg)]
    probs = 1 / (1 + np.exp(-scores))
    return labels, probs


def test_intervals_match_the_normal_approximation(large_sample):
    labels, probs = large_sample
    cis = bootstrap_cis(labels, probs, threshold=0.5, n_boot=1500, seed=1)
    n_pos, n_neg = int(labels.sum()), int((1 - labels).sum())
    z = 1.959964
    sens, spec = cis["sensitivity"]["value"], cis["specificity"]["value"]
    # sensitivity and specificity: binomial on their own class (stratified resampling)
    for name, value, n in (("sensitivity", sens, n_pos), ("specificity", spec, n_neg)):
        half = z * math.sqrt(value * (1 - value) / n)
        assert cis[name]["low"] == pytest.approx(value - half, abs=0.006)
        assert cis[name]["high"] == pytest.approx(value + half, abs=0.006)
    # accuracy: class counts fixed, so its variance is the weighted sum of the two
    acc = cis["accuracy"]["value"]
    se_acc = math.sqrt(n_pos * sens * (1 - sens) + n_neg * spec * (1 - spec)) / (n_pos + n_neg)
    assert cis["accuracy"]["low"] == pytest.approx(acc - z * se_acc, abs=0.005)
    assert cis["accuracy"]["high"] == pytest.approx(acc + z * se_acc, abs=0.005)
    # AUC: DeLong's variance gives the normal interval
    auc = cis["auc"]["value"]
    se_auc = math.sqrt(auc_variance(labels, probs))
    assert cis["auc"]["low"] == pytest.approx(auc - z * se_auc, abs=0.005)
    assert cis["auc"]["high"] == pytest.approx(auc + z * se_auc, abs=0.005)


def test_seeded_and_reproducible():
    labels = [0, 0, 0, 1, 1, 1, 1, 0, 1, 0]
    probs = [0.1, 0.4, 0.6, 0.7, 0.8, 0.3, 0.9, 0.2, 0.55, 0.5]
    first = bootstrap_cis(labels, probs, n_boot=300, seed=7)
    assert first == bootstrap_cis(labels, probs, n_boot=300, seed=7)
    assert first != bootstrap_cis(labels, probs, n_boot=300, seed=8)
    for name in ("accuracy", "sensitivity", "specificity", "auc"):
        assert 0 <= first[name]["low"] <= first[name]["value"] <= first[name]["high"] <= 1


def test_rank_fallback_agrees_with_pairwise(monkeypatch):
    import training.metrics.bootstrap as bootstrap

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 80)
    probs = np.round(rng.random(80), 1)  # ties
    pairwise = bootstrap.bootstrap_cis(labels, probs, n_boot=200, seed=3)
    monkeypatch.setattr(bootstrap, "_PAIRWISE_LIMIT", 0)
    ranked = bootstrap.bootstrap_cis(labels, probs, n_boot=200, seed=3)
    assert ranked["auc"]["low"] == pytest.approx(pairwise["auc"]["low"], abs=1e-6)
    assert ranked["auc"]["high"] == pytest.approx(pairwise["auc"]["high"], abs=1e-6)


def test_one_class_is_a_clear_error():
    with pytest.raises(ValueError, match="both classes"):
        bootstrap_cis([1, 1], [0.2, 0.9])
