"""Fitting the domain check from in-distribution validation views.

Three disjoint groups of studies: the first fits the detector (per view
position: feature mean and Ledoit-Wolf shrunk covariance; per acquisition
statistic: median and robust scale), the second sets the thresholds, the
third only measures how many in-distribution studies the thresholds flag.

Thresholds: one common quantile level q is searched for so that every
check's threshold is the q-quantile of that check's scores over the second
group's views, and at most ``target / 2`` of the second group's studies are
flagged (half the budget, as room for the sampling error of a small group);
every threshold is then widened by ``margin``.  The third group's study
flag rate is what the package reports against ``target``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.ai.domain.acquisition import STAT_NAMES
from engine.ai.domain.check import FORMAT, FORMAT_VERSION, POSITIONS, DomainCheck

TARGET_RATE = 0.02
MARGIN = 1.2  # 1.1 flagged 4 of 120 check studies (seed 2003); see the model card
_SCALE_FLOOR = 1e-3


@dataclass
class ViewSample:
    """One analysed in-distribution view: its study, position, features and statistics."""

    study: str
    position: str
    features: np.ndarray
    stats: dict[str, float]


def ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf (2004) shrinkage of the sample covariance of rows ``x``
    towards a scaled identity: (covariance, shrinkage in 0..1)."""
    x = np.asarray(x, dtype=np.float64)
    n, p = x.shape
    xc = x - x.mean(axis=0)
    s = xc.T @ xc / n
    mu = float(np.trace(s)) / p
    delta = float(((s - mu * np.eye(p)) ** 2).sum()) / p
    x2 = xc**2
    beta = float(((x2.T @ x2) / n - s**2).sum()) / (p * n)
    shrink = 0.0 if delta <= 0 else min(beta, delta) / delta
    return (1.0 - shrink) * s + shrink * mu * np.eye(p), shrink


def _fit_position(views: Sequence[ViewSample]) -> dict[str, Any]:
    x = np.stack([v.features for v in views]).astype(np.float64)
    cov, shrink = ledoit_wolf(x)
    precision = np.linalg.inv(cov)
    precision = (precision + precision.T) / 2
    chol = np.linalg.cholesky(precision)
    stats = {}
    for name in STAT_NAMES:
        values = np.array([v.stats[name] for v in views])
        centre = float(np.median(values))
        mad = 1.4826 * float(np.median(np.abs(values - centre)))
        stats[name] = {"centre": centre, "scale": max(mad, _SCALE_FLOOR, 0.01 * abs(centre))}
    return {
        "mean": x.mean(axis=0).tolist(),
        "precision_cholesky": chol.tolist(),
        "shrinkage": shrink,
        "views": len(views),
        "threshold": 0.0,
        "stats": stats,
    }


def _scores(raw: dict[str, Any], views: Sequence[ViewSample]) -> np.ndarray:
    """(views, 1 + stats): feature distance, then |z| of each statistic."""
    mean = np.asarray(raw["mean"])
    chol = np.asarray(raw["precision_cholesky"])
    x = np.stack([v.features for v in views]).astype(np.float64)
    cols = [np.linalg.norm((x - mean) @ chol, axis=1)]
    for name in STAT_NAMES:
        s = raw["stats"][name]
        cols.append(np.abs(np.array([v.stats[name] for v in views]) - s["centre"]) / s["scale"])
    return np.stack(cols, axis=1)


def _by_position(views: Sequence[ViewSample]) -> dict[str, list[ViewSample]]:
    return {p: [v for v in views if v.position == p] for p in POSITIONS}


def _set_thresholds(raw: dict[str, Any], q: float, calib: dict[str, np.ndarray], margin: float):
    for p in POSITIONS:
        t = np.quantile(calib[p], q, axis=0) * margin
        raw["positions"][p]["threshold"] = float(t[0])
        for k, name in enumerate(STAT_NAMES, start=1):
            raw["positions"][p]["stats"][name]["limit"] = float(t[k])


def study_rate(check: DomainCheck, views: Sequence[ViewSample]) -> tuple[float, int, int]:
    """(fraction of studies flagged, flagged, studies) using only features and statistics."""
    flagged: dict[str, bool] = {}
    for v in views:
        bad = check.verdict(v.position, v.features, v.stats).flagged
        flagged[v.study] = flagged.get(v.study, False) or bad
    n = len(flagged)
    k = sum(flagged.values())
    return (k / n if n else 0.0), k, n


def fit_domain_check(
    fit: Sequence[ViewSample],
    calibrate: Sequence[ViewSample],
    check: Sequence[ViewSample],
    *,
    layer: str,
    groups: dict[str, str],
    target: float = TARGET_RATE,
    margin: float = MARGIN,
) -> dict[str, Any]:
    """The domain_check.json content; ``groups`` says where each group came from."""
    fit_by = _by_position(fit)
    for p in POSITIONS:
        if len(fit_by[p]) < 8:
            raise ValueError(f"too few {p} views to fit the domain check ({len(fit_by[p])})")
    positions = {p: _fit_position(fit_by[p]) for p in POSITIONS}
    raw: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "layer": layer,
        "channels": len(positions["CC"]["mean"]),
        "stat_names": list(STAT_NAMES),
        "positions": positions,
    }
    calib_by = _by_position(calibrate)
    calib = {p: _scores(positions[p], calib_by[p]) for p in POSITIONS}
    chosen = 1.0
    for q in np.linspace(0.95, 1.0, 201):
        _set_thresholds(raw, float(q), calib, 1.0)
        if study_rate(DomainCheck.from_dict(raw), calibrate)[0] <= target / 2:
            chosen = float(q)
            break
    _set_thresholds(raw, chosen, calib, margin)
    result = DomainCheck.from_dict(raw)
    rates = {}
    for name, views in (("fit", fit), ("threshold", calibrate), ("check", check)):
        rate, k, n = study_rate(result, views)
        rates[name] = {"studies": n, "flagged": k, "rate": round(rate, 4)}
    raw["validation"] = {
        "groups": groups,
        "quantile": round(chosen, 4),
        "margin": margin,
        "target_study_rate": target,
        "in_distribution": rates,
        "meets_target": rates["check"]["rate"] <= target,
    }
    return raw
