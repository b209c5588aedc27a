"""The domain check as shipped in a model package (``domain_check.json``).

Per view position (CC, MLO): the mean and the Cholesky factor of the
precision (inverse of a Ledoit-Wolf shrunk covariance) of the model's pooled
backbone features on in-distribution validation views, and a distance
threshold; for each acquisition statistic (engine.ai.domain.acquisition) a
centre, a robust scale and a limit in those units.  A view is flagged when
its feature distance or any statistic is beyond its limit.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.ai.domain.acquisition import STAT_LABELS, acquisition_stats
from engine.ai.package import ModelPackage
from engine.ai.package_manifest import ModelPackageError, refused
from engine.ai.preprocess import Prepared

FORMAT = "mammodesk-domain-check"
FORMAT_VERSION = 1
FILE = "domain_check.json"
POSITIONS = ("CC", "MLO")


@dataclass(frozen=True)
class DomainVerdict:
    """One view: flagged or not, its feature distance and threshold, and why."""

    flagged: bool
    distance: float
    threshold: float
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatLimit:
    centre: float
    scale: float
    limit: float  # in units of scale, either side of the centre

    def bounds(self) -> tuple[float, float]:
        return self.centre - self.limit * self.scale, self.centre + self.limit * self.scale


@dataclass(frozen=True)
class PositionCheck:
    mean: np.ndarray  # (C,)
    cholesky: np.ndarray  # (C, C) lower triangular, precision = L @ L.T
    threshold: float
    stats: dict[str, StatLimit]

    def distance(self, features: np.ndarray) -> float:
        d = np.asarray(features, dtype=np.float64).reshape(-1) - self.mean
        return float(np.linalg.norm(d @ self.cholesky))


def _position(raw: dict[str, Any], channels: int) -> PositionCheck:
    mean = np.asarray(raw["mean"], dtype=np.float64)
    chol = np.asarray(raw["precision_cholesky"], dtype=np.float64)
    if mean.shape != (channels,) or chol.shape != (channels, channels):
        raise ValueError("feature sizes disagree")
    threshold = float(raw["threshold"])
    stats = {
        name: StatLimit(float(s["centre"]), float(s["scale"]), float(s["limit"]))
        for name, s in raw["stats"].items()
    }
    values = [threshold, *(v for s in stats.values() for v in (s.centre, s.scale, s.limit))]
    if not all(math.isfinite(v) for v in values) or not np.isfinite(chol).all():
        raise ValueError("non-finite numbers")
    return PositionCheck(mean, chol, threshold, stats)


@dataclass(frozen=True)
class DomainCheck:
    """Says when a view is outside the model's training (see the package docstring)."""

    positions: dict[str, PositionCheck]
    layer: str
    validation: dict[str, Any]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> DomainCheck:
        if raw.get("format") != FORMAT or raw.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} version {FORMAT_VERSION} file")
        channels = int(raw["channels"])
        positions = {p: _position(raw["positions"][p], channels) for p in POSITIONS}
        return cls(positions, str(raw.get("layer", "")), dict(raw.get("validation", {})))

    @classmethod
    def load(cls, path: Path) -> DomainCheck:
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise refused(f"{Path(path).name} is unusable ({exc})") from None

    @classmethod
    def from_package(cls, package: ModelPackage) -> DomainCheck | None:
        """The package's check; None for a package without one (older packages)."""
        path = package.domain_check_path
        return None if path is None else cls.load(path)

    def view_verdict(
        self, prepared: Prepared, features: np.ndarray, position: str
    ) -> DomainVerdict:
        """Whether one prepared view (``position`` CC or MLO) with its model
        features (one row of the runtime's ``features_cc``/``features_mlo``)
        looks like the training images."""
        return self.verdict(position, features, acquisition_stats(prepared.image))

    def verdict(
        self, position: str, features: np.ndarray, stats: dict[str, float]
    ) -> DomainVerdict:
        """view_verdict from the features and the view's acquisition statistics."""
        check = self.positions.get(position)
        if check is None:
            raise ModelPackageError(f"the domain check knows no view position {position!r}")
        distance = check.distance(features)
        reasons = []
        if not distance <= check.threshold:  # NaN features are flagged too
            reasons.append(
                f"image features unlike the training images (distance {distance:.1f}, "
                f"limit {check.threshold:.1f})"
            )
        for name, lim in check.stats.items():
            lo, hi = lim.bounds()
            value = stats.get(name, float("nan"))
            if not lo <= value <= hi:
                reasons.append(
                    f"{STAT_LABELS.get(name, name)} {value:.4g} outside the training range "
                    f"{lo:.4g}..{hi:.4g}"
                )
        return DomainVerdict(bool(reasons), distance, check.threshold, reasons)


def study_flagged(verdicts: list[DomainVerdict]) -> bool:
    """A study is outside the training when any of its analysed views is."""
    return any(v.flagged for v in verdicts)
