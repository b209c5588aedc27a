"""What one analysis of a screening exam produced, as plain values.

Coordinates are stored-pixel coordinates of the analysed image as written in
the file (column x, row y, before any display flip): (0, 0) is the top-left
corner of the top-left pixel, so a pixel's centre is at (i + 0.5, j + 0.5).
The heatmap of a view is registered to the same grid: cell (r, c) covers the
stored pixels rows [r * stride, (r + 1) * stride) and columns
[c * stride, (c + 1) * stride).
"""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from engine.notices import NOT_FOR_CLINICAL_USE

DENSITY_CLASSES = ("a", "b", "c", "d")
# Shown instead of a score when the package's domain check finds a study
# unlike the model's training images (engine.ai.domain).
OUTSIDE_TRAINING = "outside what this model was trained on"
# Stored pixels per cell of a view's registered heatmap (ViewResult.heatmap).
HEATMAP_STRIDE_PX = 16


@dataclass(frozen=True)
class Mark:
    """A suspicious location: heatmap peak, a box around it, its score 0..1."""

    x: float
    y: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 (x1/y1 exclusive)
    score: float


@dataclass
class ViewResult:
    view: str  # hanging label, e.g. "RCC", "LMLO"
    laterality: str  # "R" or "L"
    view_position: str  # "CC" or "MLO"
    sop_instance_uid: str
    sop_class_uid: str
    series_instance_uid: str
    rows: int
    columns: int
    score: float | None = None  # view-level malignancy probability
    marks: list[Mark] = field(default_factory=list)
    heatmap: np.ndarray | None = field(default=None, repr=False)  # float32 0..1
    heatmap_stride: float = float(HEATMAP_STRIDE_PX)
    reason: str | None = None  # why the model did not judge this view
    # The domain check's verdict on this view: {"flagged", "distance",
    # "threshold", "reasons"}; None when the package has no check.
    domain: dict[str, Any] | None = None
    # Of a study outside the training: the score and marks, kept aside
    # (shown only on request, labelled OUTSIDE_TRAINING).
    withheld_score: float | None = None
    withheld_marks: list[Mark] = field(default_factory=list)

    @property
    def applicable(self) -> bool:
        return self.reason is None


@dataclass
class BreastResult:
    laterality: str  # "R" or "L"
    probability: float | None  # malignancy probability 0..1
    density: str | None  # ACR a-d
    reason: str | None = None  # why there is no probability
    withheld_probability: float | None = None  # outside the training: kept aside


@dataclass
class ExamResult:
    study_instance_uid: str
    model_name: str
    model_version: str
    backend: str  # "tensorflow" or "onnxruntime"
    device: str  # e.g. "CPU", "GPU:0 (NVIDIA H100)"
    created_at: str  # ISO 8601 with offset
    exam_score: float | None  # 0..100
    category: int | None  # 1..10
    density: str | None  # ACR a-d, the denser breast
    breasts: list[BreastResult]
    views: list[ViewResult]
    reason: str | None = None  # why there is no exam score
    timings_s: dict[str, float] = field(default_factory=dict)
    notice: str = NOT_FOR_CLINICAL_USE
    # The domain check: True when the study is unlike the training images
    # (its scores and marks are then withheld), None when the package has none.
    outside_training: bool | None = None
    withheld_exam_score: float | None = None

    def breast(self, laterality: str) -> BreastResult | None:
        return next((b for b in self.breasts if b.laterality == laterality), None)

    def completeness(self) -> tuple[int, int]:
        """How much of the exam the model judged: (breasts with a probability,
        views with a score), compared in that order.  A result with less (one
        file of a study analysed) never replaces a stored one with more."""
        return (sum(b.probability is not None or b.withheld_probability is not None
                    for b in self.breasts),
                sum(v.score is not None or v.withheld_score is not None for v in self.views))

    def withhold(self, reasons: list[str]) -> None:
        """The study is outside the training: put every score and mark aside
        and say so where the exam score was."""
        self.outside_training = True
        self.withheld_exam_score, self.exam_score, self.category = self.exam_score, None, None
        self.density = None  # the model's density is no better than its score here
        more = f"; {len(reasons) - 1} more in the views' notes" if len(reasons) > 1 else ""
        self.reason = f"{OUTSIDE_TRAINING} ({reasons[0]}{more})" if reasons else OUTSIDE_TRAINING
        for b in self.breasts:
            if b.probability is not None:
                b.withheld_probability, b.probability = b.probability, None
                b.density, b.reason = None, OUTSIDE_TRAINING
        for v in self.views:
            v.withheld_score, v.score = v.score, None
            v.withheld_marks, v.marks = v.marks, []
            v.heatmap = None  # a heat map would say what the score may not

    def to_dict(self, heatmaps: bool = False) -> dict[str, Any]:
        """JSON-ready; heatmaps (optional) as base64 of uint8 0..255."""
        out = asdict(self)
        for v, src in zip(out["views"], self.views, strict=True):
            v.pop("heatmap")
            v["marks"] = [asdict(m) | {"box": list(m.box)} for m in src.marks]
            v["withheld_marks"] = [asdict(m) | {"box": list(m.box)} for m in src.withheld_marks]
            if heatmaps and src.heatmap is not None:
                q = np.clip(np.rint(src.heatmap * 255.0), 0, 255).astype(np.uint8)
                v["heatmap_shape"] = list(q.shape)
                v["heatmap_u8"] = base64.b64encode(q.tobytes()).decode("ascii")
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExamResult:
        views = []
        for v in d["views"]:
            v = dict(v)
            heat = None
            if "heatmap_u8" in v:
                shape = tuple(v.pop("heatmap_shape"))
                raw = base64.b64decode(v.pop("heatmap_u8"))
                heat = np.frombuffer(raw, np.uint8).reshape(shape).astype(np.float32) / 255.0
            marks = [Mark(m["x"], m["y"], tuple(m["box"]), m["score"]) for m in v.pop("marks")]
            withheld = [Mark(m["x"], m["y"], tuple(m["box"]), m["score"])
                        for m in v.pop("withheld_marks", [])]
            views.append(ViewResult(**v, marks=marks, withheld_marks=withheld, heatmap=heat))
        breasts = [BreastResult(**b) for b in d["breasts"]]
        rest = {k: d[k] for k in d if k not in ("views", "breasts")}
        return cls(**rest, breasts=breasts, views=views)


def category_from_thresholds(score: float | None, thresholds: list[float]) -> int | None:
    """Exam score -> category 1..10 by the model's nine ascending cut points
    (deciles of the scores of exams without cancer in its validation set)."""
    if score is None or len(thresholds) != 9:
        return None
    return 1 + int(np.searchsorted(np.asarray(thresholds, dtype=np.float64), score, side="right"))


def completeness_text(completeness: tuple[int, int]) -> str:
    """``(2, 4)`` -> "2 breasts, 4 views assessed"."""
    breasts, views = completeness
    return (f"{breasts} breast{'' if breasts == 1 else 's'}, "
            f"{views} view{'' if views == 1 else 's'} assessed")
