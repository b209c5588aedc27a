"""The published figures the screening audit is held against, and the AI's
operating point: the BCSC 2017 benchmarks (means), the combined criteria for
acceptable performance of Miglioretti et al. (2015) and whether a set of
measures meets them, and the operating point that makes the AI's call
positive.  The ranges of each measure, as the audit window shows them, are
in engine/reading/audit_ranges.py."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.reading.audit_measures import Measures

# The model package's operating points (engine/ai/package_manifest.py), in
# order of preference: a recall point where the package names one, else the
# score at which the model had 90% specificity on its validation set.
OPERATING_POINT_KEYS = ("recall", "specificity_90")

# Lehman CD, Arao RF, Sprague BL, et al. National performance benchmarks for
# modern screening digital mammography: update from the Breast Cancer
# Surveillance Consortium.  Radiology 2017;283(1):49-58 (means, 2007-2013).
BCSC_2017: dict[str, Any] = {
    "source": "Lehman CD et al. Radiology 2017;283(1):49-58 (BCSC, digital screening "
              "mammography 2007-2013)",
    "values": {
        "recall_rate": 0.116,
        "cancer_detection_rate_per_1000": 5.1,
        "ppv1": 0.044,
        "ppv2": 0.256,
        "ppv3": 0.286,
        "sensitivity": 0.869,
        "specificity": 0.889,
        "minimal_cancer_fraction": 0.577,
        "node_negative_fraction": 0.794,
    },
}
# Miglioretti DL, Ichikawa L, Smith RA, et al. Criteria for identifying
# radiologists with acceptable screening mammography interpretive performance
# on basis of multiple performance measures.  AJR 2015;204(4):W486-W491.
# Each group is met when any one of its options is; an option gives an
# inclusive [low, high] range per measure (None: open).
MIGLIORETTI_2015: dict[str, Any] = {
    "source": "Miglioretti DL et al. AJR 2015;204(4):W486-W491 (combined criteria for "
              "acceptable performance)",
    "criteria": {
        "sensitivity_specificity": [
            {"sensitivity": [0.80, None], "specificity": [0.85, None]},
            {"sensitivity": [0.75, 0.80], "specificity": [0.88, 0.97]},
        ],
        "cdr_recall_ppv1": [
            {"cancer_detection_rate_per_1000": [6.0, None], "recall_rate": [0.03, 0.20]},
            {"cancer_detection_rate_per_1000": [4.0, 6.0], "recall_rate": [0.03, 0.15],
             "ppv1": [0.03, None]},
            {"cancer_detection_rate_per_1000": [2.5, 4.0], "recall_rate": [0.05, 0.12],
             "ppv1": [0.03, 0.08]},
        ],
    },
}
BENCHMARKS = {"bcsc_2017": BCSC_2017, "miglioretti_2015": MIGLIORETTI_2015}


@dataclass(frozen=True)
class OperatingPoint:
    name: str  # the package's name for it
    probability: float  # 0..1, a breast's malignancy probability

    @property
    def exam_score(self) -> float:
        """The exam score (0..100) at or above which the AI's call is positive."""
        return 100.0 * self.probability


def operating_point(points: dict[str, Any]) -> OperatingPoint | None:
    """The AI's recall operating point from a package's ``operating_points``."""
    for key in OPERATING_POINT_KEYS:
        value = points.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return OperatingPoint(key, float(value))
    return None


def acceptable(m: Measures) -> dict[str, bool | None]:
    """Each group of MIGLIORETTI_2015's criteria: met, not met, or None where a
    measure it needs has no value."""
    values = asdict(m)
    out: dict[str, bool | None] = {}
    for group, options in MIGLIORETTI_2015["criteria"].items():
        needed = {k for option in options for k in option}
        if any(values[k] is None for k in needed):
            out[group] = None
            continue
        out[group] = any(all((lo is None or values[k] >= lo) and (hi is None or values[k] <= hi)
                             for k, (lo, hi) in option.items()) for option in options)
    return out
