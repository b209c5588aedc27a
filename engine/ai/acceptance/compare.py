"""Comparing a candidate model with the live one on the same labelled breasts.

Non-inferiority of the AUC: DeLong, DeLong and Clarke-Pearson's (1988)
variance of the difference of two correlated AUCs (both models scored the
same breasts), with a normal 95% interval; the candidate is worse beyond the
margin when the interval's lower bound is below ``-MARGIN``.  The method
treats the breasts as independent, although the two breasts of a woman are
not quite: the interval is somewhat narrower than a clustered one.

Sensitivity at the live model's operating point: the live model's
specificity on these negatives at its recall threshold fixes the
specificity; the candidate is read at the threshold that reaches at least
that specificity on the same negatives, and its sensitivity there must not be
lower than the live model's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MARGIN = 0.02
Z95 = 1.959963984540054


@dataclass(frozen=True)
class AucComparison:
    auc_active: float
    auc_candidate: float
    difference: float  # candidate - active
    ci_low: float
    ci_high: float

    @property
    def non_inferior(self) -> bool:
        return self.ci_low >= -MARGIN


@dataclass(frozen=True)
class SensitivityComparison:
    threshold_active: float
    specificity: float  # the live model's, at its threshold
    threshold_candidate: float  # reaching at least that specificity
    sensitivity_active: float
    sensitivity_candidate: float

    @property
    def not_lower(self) -> bool:
        return self.sensitivity_candidate >= self.sensitivity_active


def _checked(labels: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    y = np.asarray(labels).astype(int)
    if set(np.unique(y)) - {0, 1}:
        raise ValueError("labels must be 0 or 1")
    if y.sum() == 0 or y.sum() == len(y):
        raise ValueError("both positive and negative breasts are needed")
    for s in scores:
        if len(s) != len(y) or not np.all(np.isfinite(s)):
            raise ValueError("every breast needs a finite score")
    return y


def _components(pos: np.ndarray, neg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: per positive, per negative."""
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    return psi.mean(axis=1), psi.mean(axis=0)


def compare_auc(labels: np.ndarray, active: np.ndarray, candidate: np.ndarray) -> AucComparison:
    y = _checked(labels, active, candidate)
    v10, v01 = [], []
    for s in (np.asarray(active, float), np.asarray(candidate, float)):
        a, b = _components(s[y == 1], s[y == 0])
        v10.append(a)
        v01.append(b)
    aucs = [float(v.mean()) for v in v10]
    m, n = len(v10[0]), len(v01[0])
    s10 = np.cov(np.vstack(v10)) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.vstack(v01)) if n > 1 else np.zeros((2, 2))
    var = ((s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m
           + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n)
    se = math.sqrt(max(float(var), 0.0))
    diff = aucs[1] - aucs[0]
    return AucComparison(aucs[0], aucs[1], diff, diff - Z95 * se, diff + Z95 * se)


def _threshold_for(scores: np.ndarray, neg: np.ndarray, specificity: float) -> float:
    """The lowest threshold t (scores >= t are positive) with specificity >= the given one;
    every score is a possible threshold, so none between two negatives is missed."""
    values = np.unique(np.concatenate([scores, [np.inf]]))
    for t in values:  # ascending: the first that reaches it is the most sensitive
        if float(np.mean(neg < t)) >= specificity - 1e-12:
            return float(t)
    return math.inf


def compare_sensitivity(labels: np.ndarray, active: np.ndarray, candidate: np.ndarray,
                        threshold: float) -> SensitivityComparison:
    y = _checked(labels, active, candidate)
    a, c = np.asarray(active, float), np.asarray(candidate, float)
    spec = float(np.mean(a[y == 0] < threshold))
    t_c = _threshold_for(c, c[y == 0], spec)
    return SensitivityComparison(
        threshold, spec, t_c,
        float(np.mean(a[y == 1] >= threshold)), float(np.mean(c[y == 1] >= t_c)))


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    y = _checked(labels, scores)
    s = np.asarray(scores, float)
    return float(_components(s[y == 1], s[y == 0])[0].mean())
