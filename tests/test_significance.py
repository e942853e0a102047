"""McNemar and DeLong against values worked out by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from training.metrics.binary import roc_auc
from training.metrics.significance import auc_variance, delong, mcnemar


def test_mcnemar_exact_binomial_for_few_discordant_cases():
    # A right / B wrong once, B right / A wrong nine times: p = 2 * (C(10,0) + C(10,1)) / 2^10
    a = [True] * 1 + [False] * 9 + [True] * 20
    b = [False] * 1 + [True] * 9 + [True] * 20
    result = mcnemar(a, b)
    assert (result["a_right_b_wrong"], result["b_right_a_wrong"]) == (1, 9)
    assert result["method"] == "exact binomial"
    assert result["p_value"] == pytest.approx(22 / 1024)


def test_mcnemar_chi_square_with_continuity_correction():
    # the textbook 2x2 table a=101, b=121, c=59, d=33: (|121-59|-1)^2 / 180 = 20.672
    a = [True] * 101 + [True] * 121 + [False] * 59 + [False] * 33
    b = [True] * 101 + [False] * 121 + [True] * 59 + [False] * 33
    result = mcnemar(a, b)
    assert result["method"].startswith("chi-square")
    assert result["statistic"] == pytest.approx(3721 / 180)
    assert result["p_value"] == pytest.approx(stats.chi2.sf(3721 / 180, 1))
    assert result["p_value"] < 1e-5


def test_mcnemar_identical_models():
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0


def test_delong_matches_hand_computed_example():
    # Positives / negatives, worked out by hand from the placement values:
    #   A: pos 0.9 0.8 0.3, neg 0.5 0.1 -> V10 = (1, 1, .5), V01 = (2/3, 1), AUC 5/6
    #   B: pos 0.6 0.2 0.7, neg 0.4 0.65 -> V10 = (.5, 0, 1), V01 = (2/3, 1/3), AUC 1/2
    #   var A = 1/18, var B = 1/9, cov = -5/72 -> var(A-B) = 11/36, z = (1/3)/sqrt(11/36) = 2/sqrt(11)
    labels = [1, 0, 1, 1, 0]  # shuffled so order does not matter
    a = [0.9, 0.5, 0.8, 0.3, 0.1]
    b = [0.6, 0.4, 0.2, 0.7, 0.65]
    result = delong(labels, a, b)
    assert result["auc_a"] == pytest.approx(5 / 6)
    assert result["auc_b"] == pytest.approx(1 / 2)
    assert result["se"] == pytest.approx(math.sqrt(11 / 36))
    assert result["z"] == pytest.approx(2 / math.sqrt(11))
    assert result["p_value"] == pytest.approx(2 * stats.norm.sf(2 / math.sqrt(11)))
    assert auc_variance(labels, a) == pytest.approx(1 / 18)


def _delong_by_definition(labels, a, b):
    """O(m*n) DeLong straight from the kernel, as an independent check."""
    y = np.asarray(labels)
    comps = []
    for s in (np.asarray(a), np.asarray(b)):
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        comps.append((psi.mean(), psi.mean(axis=1), psi.mean(axis=0)))
    m, n = comps[0][1].size, comps[0][2].size
    s10 = np.cov(np.vstack([comps[0][1], comps[1][1]]))
    s01 = np.cov(np.vstack([comps[0][2], comps[1][2]]))
    cov = s10 / m + s01 / n
    var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    return comps[0][0] - comps[1][0], math.sqrt(var)


def test_delong_fast_agrees_with_the_definition_including_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    a = np.round(labels * 0.8 + rng.normal(0, 0.7, 300), 1)  # rounded: many ties
    b = np.round(labels * 0.5 + rng.normal(0, 0.7, 300), 1)
    result = delong(labels, a, b)
    diff, se = _delong_by_definition(labels, a, b)
    assert result["difference"] == pytest.approx(diff)
    assert result["se"] == pytest.approx(se)
    assert result["auc_a"] == pytest.approx(roc_auc(labels, a))


def test_delong_needs_both_classes():
    with pytest.raises(ValueError, match="two cases of each class"):
        delong([1, 1, 1, 0], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, 0.4])


def test_delong_identical_models_is_not_significant():
    labels = [0, 1, 0, 1, 1, 0]
    s = [0.1, 0.8, 0.4, 0.3, 0.9, 0.2]
    assert delong(labels, s, s)["p_value"] == 1.0
