"""Comparing a candidate with the live model: DeLong's paired AUC difference
checked against a brute-force count and a loop-by-loop textbook variance, and
the sensitivity at the live operating point on examples worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.ai.acceptance.compare import MARGIN, Z95, auc, compare_auc, compare_sensitivity


def brute_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Mann-Whitney: the share of (positive, negative) pairs ordered right, ties half."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    won = 0.0
    for p in pos:
        for n in neg:
            won += 1.0 if p > n else 0.5 if p == n else 0.0
    return won / (len(pos) * len(neg))


def textbook_delong(labels: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(AUC_b - AUC_a, variance of that difference), DeLong et al. 1988, with loops."""
    pos = [i for i, y in enumerate(labels) if y == 1]
    neg = [j for j, y in enumerate(labels) if y == 0]
    m, n = len(pos), len(neg)

    def psi(x: float, y: float) -> float:
        return 1.0 if x > y else 0.5 if x == y else 0.0

    v10 = {k: [0.0] * m for k in "ab"}
    v01 = {k: [0.0] * n for k in "ab"}
    for key, s in (("a", a), ("b", b)):
        for r, i in enumerate(pos):
            v10[key][r] = sum(psi(s[i], s[j]) for j in neg) / n
        for c, j in enumerate(neg):
            v01[key][c] = sum(psi(s[i], s[j]) for i in pos) / m
    theta = {k: sum(v10[k]) / m for k in "ab"}

    def cov(v: dict[str, list[float]], k1: str, k2: str, count: int) -> float:
        total = 0.0
        for t in range(count):
            total += (v[k1][t] - theta[k1]) * (v[k2][t] - theta[k2])
        return total / (count - 1)

    var = ((cov(v10, "a", "a", m) + cov(v10, "b", "b", m) - 2 * cov(v10, "a", "b", m)) / m
           + (cov(v01, "a", "a", n) + cov(v01, "b", "b", n) - 2 * cov(v01, "a", "b", n)) / n)
    return theta["b"] - theta["a"], var


def correlated(rng: np.random.Generator, n: int, quantise: float | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    labels = (rng.random(n) < 0.4).astype(int)
    labels[:2] = [0, 1]
    shared = rng.normal(size=n) + 1.2 * labels
    a = shared + 0.6 * rng.normal(size=n)
    b = shared + 0.6 * rng.normal(size=n) + 0.2 * labels
    if quantise:
        a, b = np.round(a / quantise) * quantise, np.round(b / quantise) * quantise
    return labels, a, b


@pytest.mark.parametrize("seed", range(5))
def test_the_auc_is_the_mann_whitney_count_with_ties_as_half(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(60) < 0.3).astype(int)
    labels[:2] = [0, 1]
    scores = rng.integers(0, 6, size=60).astype(float)  # many ties
    assert auc(labels, scores) == pytest.approx(brute_auc(labels, scores), abs=1e-12)
    other = rng.normal(size=60)
    r = compare_auc(labels, scores, other)
    assert r.auc_active == pytest.approx(brute_auc(labels, scores), abs=1e-12)
    assert r.auc_candidate == pytest.approx(brute_auc(labels, other), abs=1e-12)
    assert r.difference == pytest.approx(r.auc_candidate - r.auc_active, abs=1e-12)


def test_a_perfect_and_a_reversed_model():
    labels = np.array([0, 0, 0, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auc(labels, s) == 1.0
    assert auc(labels, -s) == 0.0
    assert auc(labels, np.full(5, 0.5)) == 0.5


@pytest.mark.parametrize(("seed", "quantise"), [(1, None), (2, None), (3, 0.5), (4, 0.25)])
def test_the_interval_is_the_textbook_delong_variance(seed, quantise):
    labels, a, b = correlated(np.random.default_rng(seed), 70, quantise)
    diff, var = textbook_delong(labels, a, b)
    r = compare_auc(labels, a, b)
    assert r.difference == pytest.approx(diff, abs=1e-12)
    half = Z95 * math.sqrt(var)
    assert var > 0
    assert r.ci_low == pytest.approx(diff - half, abs=1e-12)
    assert r.ci_high == pytest.approx(diff + half, abs=1e-12)
    assert math.isclose(Z95, 1.959964, abs_tol=1e-6)


def test_swapping_the_models_mirrors_the_interval():
    labels, a, b = correlated(np.random.default_rng(9), 50)
    ab, ba = compare_auc(labels, a, b), compare_auc(labels, b, a)
    assert ba.difference == pytest.approx(-ab.difference)
    assert ba.ci_low == pytest.approx(-ab.ci_high)
    assert ba.ci_high == pytest.approx(-ab.ci_low)


def test_identical_scores_differ_by_nothing():
    labels, a, _b = correlated(np.random.default_rng(5), 40, 0.5)
    r = compare_auc(labels, a, a.copy())
    assert (r.difference, r.ci_low, r.ci_high) == (0.0, 0.0, 0.0)
    assert r.non_inferior


def test_a_clearly_worse_candidate_is_not_non_inferior():
    rng = np.random.default_rng(11)
    labels = np.array([1] * 60 + [0] * 120)
    live = rng.normal(size=180) + 2.0 * labels
    worse = live.copy()
    worse[labels == 1] = rng.permutation(live[labels == 1]) - 1.5 + rng.normal(size=60)
    r = compare_auc(labels, live, worse)
    assert r.difference < -0.1
    assert r.ci_high < 0
    assert not r.non_inferior


def test_a_slightly_better_candidate_is_non_inferior():
    rng = np.random.default_rng(12)
    labels = np.array([1] * 60 + [0] * 120)
    live = rng.normal(size=180) + 1.5 * labels
    better = live + 0.1 * labels + 0.05 * rng.normal(size=180)
    r = compare_auc(labels, live, better)
    assert r.difference > 0
    assert r.ci_low >= -MARGIN
    assert r.non_inferior


def test_the_margin_decides_at_the_lower_bound():
    from engine.ai.acceptance.compare import AucComparison
    assert AucComparison(0.9, 0.89, -0.01, -0.02, 0.0).non_inferior
    assert not AucComparison(0.9, 0.89, -0.01, -0.0201, 0.0).non_inferior


@pytest.mark.parametrize("labels", [[1, 1, 1], [0, 0, 0], [0, 2, 1]])
def test_both_classes_of_breast_are_needed(labels):
    s = np.array([0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        compare_auc(np.array(labels), s, s)
    with pytest.raises(ValueError):
        compare_sensitivity(np.array(labels), s, s, 0.2)
    with pytest.raises(ValueError):
        auc(np.array(labels), s)


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_every_breast_needs_a_finite_score(bad):
    labels = np.array([0, 1, 0, 1])
    good = np.array([0.1, 0.9, 0.2, 0.8])
    worse = good.copy()
    worse[2] = bad
    with pytest.raises(ValueError, match="finite"):
        compare_auc(labels, good, worse)
    with pytest.raises(ValueError, match="finite"):
        compare_auc(labels, worse, good)
    with pytest.raises(ValueError, match="finite"):
        compare_sensitivity(labels, good, worse, 0.5)
    with pytest.raises(ValueError):
        compare_auc(labels, good, good[:3])


# -- sensitivity at the live operating point, worked out by hand -------------------
# Scores at or above a threshold are positive.  The candidate's threshold is
# the lowest of its scores (or infinity) at which its specificity on the same
# negatives is at least the live model's.

LABELS = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1])
LIVE = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.35, 0.5, 0.7, 0.9])


def best_sensitivity(labels: np.ndarray, scores: np.ndarray, specificity: float) -> float:
    """The highest sensitivity of any threshold whose specificity reaches the given one."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    best = 0.0
    for t in [*scores, math.inf]:
        if np.mean(neg < t) >= specificity - 1e-12:
            best = max(best, float(np.mean(pos >= t)))
    return best


def test_the_live_model_is_read_at_its_threshold():
    r = compare_sensitivity(LABELS, LIVE, LIVE.copy(), 0.5)
    # Negatives below 0.5: 0.1-0.4, 4 of 5.  Positives at or above 0.5: 0.5, 0.7, 0.9.
    assert r.threshold_active == 0.5
    assert r.specificity == pytest.approx(0.8)
    assert r.sensitivity_active == pytest.approx(3 / 4)


def test_the_candidate_is_read_at_its_lowest_threshold_with_that_specificity():
    cand = np.array([1.0, 2.0, 3.0, 5.0, 7.0, 4.0, 6.0, 8.0, 9.0])
    r = compare_sensitivity(LABELS, LIVE, cand, 0.5)
    # 4 of 5 negatives (1, 2, 3, 5) fall below any threshold above 5; the
    # lowest such score is 6 (a positive).  Positives at or above 6: 6, 8, 9.
    assert r.threshold_candidate == 6.0
    assert r.sensitivity_candidate == pytest.approx(3 / 4)
    assert r.not_lower


def test_a_candidate_on_another_scale_with_the_same_order_is_not_lower():
    cand = 10 * LIVE + 3  # negatives 4, 5, 6, 7, 9; positives 6.5, 8, 10, 12
    r = compare_sensitivity(LABELS, LIVE, cand, 0.5)
    assert r.threshold_candidate == pytest.approx(8.0)
    assert r.sensitivity_candidate == r.sensitivity_active == pytest.approx(3 / 4)
    assert r.not_lower


@pytest.mark.parametrize("threshold", [0.45, 0.5, 0.55, 0.6])
def test_equal_models_are_not_lower(threshold):
    r = compare_sensitivity(LABELS, LIVE, LIVE.copy(), threshold)
    # The same scores read at a threshold no higher than the live one (among
    # those with the same specificity) find at least the same cancers.
    assert r.threshold_candidate <= max(threshold, 0.6)
    assert r.sensitivity_candidate >= r.sensitivity_active
    assert r.not_lower


@pytest.mark.parametrize("seed", range(20))
def test_equal_models_on_random_scores_are_not_lower(seed):
    rng = np.random.default_rng(seed)
    labels = (rng.random(80) < 0.3).astype(int)
    labels[:2] = [0, 1]
    scores = rng.random(80) + 0.4 * labels
    r = compare_sensitivity(labels, scores, scores.copy(), float(rng.uniform(0.3, 0.9)))
    assert r.sensitivity_candidate >= r.sensitivity_active
    assert r.not_lower


@pytest.mark.parametrize("seed", range(20))
def test_the_candidate_gets_the_best_sensitivity_the_specificity_allows(seed):
    rng = np.random.default_rng(100 + seed)
    labels = (rng.random(60) < 0.4).astype(int)
    labels[:2] = [0, 1]
    live = rng.random(60) + 0.5 * labels
    cand = np.round(rng.random(60) + 0.5 * labels, 1)  # ties
    r = compare_sensitivity(labels, live, cand, float(rng.uniform(0.3, 1.0)))
    assert r.specificity == pytest.approx(float(np.mean(live[labels == 0] < r.threshold_active)))
    neg = cand[labels == 0]
    assert np.mean(neg < r.threshold_candidate) >= r.specificity - 1e-12
    assert r.sensitivity_candidate == pytest.approx(
        best_sensitivity(labels, cand, r.specificity))


def test_a_candidate_missing_one_more_cancer_at_the_same_specificity_is_lower():
    live = np.array([0.1, 0.2, 0.3, 0.4, 0.6, 0.35, 0.65, 0.7, 0.9])
    cand = live.copy()
    cand[6] = 0.25  # one positive now scored among the negatives
    r = compare_sensitivity(LABELS, live, cand, 0.5)
    assert r.specificity == pytest.approx(0.8)
    assert r.sensitivity_active == pytest.approx(3 / 4)  # 0.65, 0.7, 0.9
    assert r.threshold_candidate == pytest.approx(0.6)  # no score between 0.4 and 0.6
    assert r.sensitivity_candidate == pytest.approx(2 / 4)  # 0.7, 0.9
    assert not r.not_lower


def test_a_candidate_finding_one_more_cancer_is_not_lower():
    cand = LIVE.copy()
    cand[5] = 0.65  # the positive the live model missed
    r = compare_sensitivity(LABELS, LIVE, cand, 0.5)
    assert r.sensitivity_active == pytest.approx(3 / 4)
    assert r.threshold_candidate == pytest.approx(0.5)
    assert r.sensitivity_candidate == pytest.approx(4 / 4)
    assert r.not_lower


def test_tied_negatives_push_the_threshold_past_the_tie():
    # Live: 3 of 5 negatives below 0.5 -> specificity 0.6; positives 0.55, 0.7, 0.9 found.
    live = np.array([0.1, 0.2, 0.3, 0.5, 0.6, 0.45, 0.55, 0.7, 0.9])
    # Candidate negatives 1, 2, 2, 2, 5: 1 of 5 below 2, 4 of 5 below anything above 2.
    cand = np.array([1.0, 2.0, 2.0, 2.0, 5.0, 2.0, 3.0, 4.0, 6.0])
    r = compare_sensitivity(LABELS, live, cand, 0.5)
    assert r.specificity == pytest.approx(0.6)
    assert r.sensitivity_active == pytest.approx(3 / 4)
    assert r.threshold_candidate == 3.0
    assert r.sensitivity_candidate == pytest.approx(3 / 4)  # 3, 4, 6; the tied 2 is lost
    assert r.not_lower


def test_a_threshold_above_every_negative_asks_for_full_specificity():
    cand = np.array([0.1, 0.2, 0.3, 0.4, 0.95, 0.35, 0.5, 0.7, 0.9])
    r = compare_sensitivity(LABELS, LIVE, cand, 0.65)
    assert r.specificity == 1.0
    assert r.sensitivity_active == pytest.approx(2 / 4)  # 0.7, 0.9
    # The candidate reaches 5 of 5 only above 0.95: no positive is that high.
    assert r.threshold_candidate == math.inf
    assert r.sensitivity_candidate == 0.0
    assert not r.not_lower
