"""Classification metrics for a malignancy score: ROC AUC with bootstrap CIs,
sensitivity at a fixed specificity, and calibration.

Labels are 0/1 (1: cancer), scores any finite numbers (higher: more
suspicious).  A case is called positive at threshold t when score >= t.

With fewer than MIN_CASES_PER_CLASS positives or negatives an AUC means
little: a handful of cases separate perfectly by chance, and the percentile
bootstrap then returns a zero-width interval such as 1.0-1.0 (most resamples
repeat the same few cases) that looks certain and is not.  The evaluation
gives no interval for such a sample and says so in one line
(few_cases_warning).
"""

from __future__ import annotations

import numpy as np

from engine.errors import MammoDeskError

# Fewer positives or negatives than this: too few for a meaningful AUC or CI.
# Ten of each is a common floor for reporting a diagnostic accuracy estimate;
# below it the interval's width depends more on the resampling than the data.
MIN_CASES_PER_CLASS = 10


class EvaluationError(MammoDeskError, ValueError):
    """The data given cannot be evaluated (one class only, wrong shapes, ...)."""


def too_few_cases(n_pos: int, n_neg: int) -> bool:
    """Whether a sample has fewer than MIN_CASES_PER_CLASS positives or negatives."""
    return min(n_pos, n_neg) < MIN_CASES_PER_CLASS


def few_cases_warning(*samples: tuple[int, int, str]) -> str | None:
    """One line naming each sample (n_pos, n_neg, what was counted) that has too
    few of a class, or None when every sample has enough:
    "only 1 positive and 2 negative breasts; with fewer than 10 of either class
    the AUC means little and no 95% CI is given"."""
    small = [f"{p} positive and {n} negative {unit}" for p, n, unit in samples
             if too_few_cases(p, n)]
    if not small:
        return None
    return (f"only {', and '.join(small)}; with fewer than {MIN_CASES_PER_CLASS} of either "
            "class the AUC means little and no 95% CI is given")


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or y.shape != s.shape:
        raise EvaluationError("labels and scores must be 1-D arrays of the same length")
    if y.size and not np.isin(y, (0, 1)).all():
        raise EvaluationError("labels must be 0 or 1")
    if not np.isfinite(s).all():
        raise EvaluationError("scores must be finite numbers")
    return y.astype(bool), s


class _Ranks:
    """Where each positive's score falls among the sorted negatives (ties 0.5)."""

    def __init__(self, y: np.ndarray, s: np.ndarray) -> None:
        self.pos = np.flatnonzero(y)
        self.neg = np.flatnonzero(~y)
        neg_scores = np.sort(s[self.neg])
        self.neg = self.neg[np.argsort(s[self.neg], kind="stable")]
        self.lo = np.searchsorted(neg_scores, s[self.pos], side="left")
        self.hi = np.searchsorted(neg_scores, s[self.pos], side="right")

    def auc(self, w: np.ndarray) -> np.ndarray:
        """AUC per row of case weights w (B, n); NaN where a class has no weight."""
        wp = w[:, self.pos].astype(np.float64)
        cn = np.zeros((w.shape[0], self.neg.size + 1))
        np.cumsum(w[:, self.neg], axis=1, out=cn[:, 1:])
        num = 0.5 * np.einsum("ij,ij->i", wp, cn[:, self.lo] + cn[:, self.hi])
        den = wp.sum(axis=1) * cn[:, -1]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos * n_neg), ties 0.5)."""
    y, s = _check(labels, scores)
    if y.all() or not y.any():
        raise EvaluationError("AUC needs both positive and negative cases")
    return float(_Ranks(y, s).auc(np.ones((1, y.size)))[0])


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), thresholds descending; the first point is (0, 0) at +inf."""
    y, s = _check(labels, scores)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise EvaluationError("a ROC curve needs both positive and negative cases")
    order = np.argsort(-s, kind="stable")
    ss, yy = s[order], y[order]
    last = np.flatnonzero(np.r_[ss[1:] != ss[:-1], True])  # last index of each tie run
    tp = np.cumsum(yy)[last]
    fp = np.cumsum(~yy)[last]
    fpr = np.r_[0.0, fp / n_neg]
    tpr = np.r_[0.0, tp / n_pos]
    return fpr, tpr, np.r_[np.inf, ss[last]]


def bootstrap_auc_ci(
    labels: np.ndarray,
    scores: np.ndarray,
    n_resamples: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> tuple[float, float]:
    """Percentile bootstrap (1 - alpha) CI of the AUC.

    With groups (e.g. exam or patient ids, one per row) whole groups are
    drawn with replacement, so the breasts of one woman stay together.
    Resamples that hold one class only are skipped.  With few cases of a
    class (too_few_cases) the interval is unreliable and may have no width;
    callers that show it to people leave it out then.
    """
    y, s = _check(labels, scores)
    if y.all() or not y.any():
        raise EvaluationError("AUC needs both positive and negative cases")
    if n_resamples < 1 or not 0.0 < alpha < 1.0:
        raise EvaluationError("n_resamples must be >= 1 and alpha in (0, 1)")
    ranks = _Ranks(y, s)
    n = y.size
    unit = None
    n_units = n
    if groups is not None:
        g = np.asarray(groups)
        if g.shape != y.shape:
            raise EvaluationError("groups must have one entry per case")
        unit = np.unique(g, return_inverse=True)[1].reshape(-1)
        n_units = int(unit.max()) + 1
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, 2_000_000 // max(n, n_units)))
    aucs = []
    for first in range(0, n_resamples, chunk):
        b = min(chunk, n_resamples - first)
        draws = rng.integers(0, n_units, size=(b, n_units))
        offsets = (np.arange(b) * n_units)[:, None]
        counts = np.bincount((draws + offsets).ravel(), minlength=b * n_units)
        w = counts.reshape(b, n_units)
        aucs.append(ranks.auc(w if unit is None else w[:, unit]))
    a = np.concatenate(aucs)
    a = a[np.isfinite(a)]
    if a.size == 0:
        raise EvaluationError("no bootstrap resample held both classes")
    lo, hi = np.quantile(a, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def sensitivity_at_specificity(
    labels: np.ndarray, scores: np.ndarray, specificity: float
) -> tuple[float, float]:
    """(sensitivity, threshold) at the lowest threshold whose specificity >= the target.

    Candidate thresholds are the observed scores; when only a threshold above
    every negative reaches the target and no positive scores higher, the
    threshold is the next float above the highest negative (sensitivity 0).
    """
    y, s = _check(labels, scores)
    if y.all() or not y.any():
        raise EvaluationError("sensitivity at specificity needs both classes")
    if not 0.0 <= specificity <= 1.0:
        raise EvaluationError("specificity must be between 0 and 1")
    pos, neg = np.sort(s[y]), np.sort(s[~y])
    need = int(np.ceil(specificity * neg.size - 1e-9))  # negatives that must be below t
    cand = np.r_[np.unique(s), np.nextafter(neg[-1], np.inf)]
    ok = np.searchsorted(neg, cand, side="left") >= need
    t = float(cand[np.argmax(ok)])  # the last candidate always qualifies
    sens = float((pos.size - np.searchsorted(pos, t, side="left")) / pos.size)
    return sens, t


def calibration(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> dict:
    """Expected calibration error over equal-width probability bins, and the bins.

    Returns {"ece", "n", "bins": [{"lo", "hi", "count", "mean_prob", "frac_pos"}]};
    an empty bin has None for mean_prob and frac_pos.  1.0 falls in the last bin.
    """
    y, p = _check(labels, probs)
    if p.size == 0:
        raise EvaluationError("calibration needs at least one case")
    if n_bins < 1:
        raise EvaluationError("n_bins must be at least 1")
    if (p < 0.0).any() or (p > 1.0).any():
        raise EvaluationError("probabilities must lie between 0 and 1")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.floor(p * n_bins).astype(int), 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    psum = np.bincount(idx, weights=p, minlength=n_bins)
    ysum = np.bincount(idx, weights=y.astype(np.float64), minlength=n_bins)
    ece = 0.0
    bins = []
    for k in range(n_bins):
        c = int(count[k])
        mp = fp = None
        if c:
            mp, fp = psum[k] / c, ysum[k] / c
            ece += c / p.size * abs(mp - fp)
        bins.append(
            {
                "lo": float(edges[k]),
                "hi": float(edges[k + 1]),
                "count": c,
                "mean_prob": None if mp is None else float(mp),
                "frac_pos": None if fp is None else float(fp),
            }
        )
    return {"ece": float(ece), "n": int(p.size), "bins": bins}
