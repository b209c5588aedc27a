"""Free-response ROC: lesion-level sensitivity against false marks per image.

A mark (x, y, score) hits a lesion when its point lies inside the lesion box
(x0, y0, x1, y1; x1/y1 exclusive, stored-pixel coordinates) grown by
tolerance_px on every side.  A lesion counts once, found by its
highest-scoring hitting mark; further marks on a found lesion are ignored
(neither hits nor false positives); a mark that hits no lesion is a false
positive.  Images without lesions (normal views) count in the denominator of
false positives per image.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.ai.evaluation.metrics import EvaluationError


@dataclass
class FrocImage:
    image_id: str
    marks: list[tuple[float, float, float]]  # (x, y, score)
    lesions: list[tuple[float, float, float, float]]  # (x0, y0, x1, y1) malignant lesions
    lesion_cnr: list[float | None] | None = field(default=None)  # per lesion, optional


def image_field(img: FrocImage | Mapping, key: str, default: Any = None) -> Any:
    """A field of a FrocImage or of a dict with the same keys."""
    if isinstance(img, Mapping):
        return img.get(key, default)
    return getattr(img, key, default)


def _image_scores(img: Any, tolerance_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(best hitting score per lesion, -inf when unhit; scores of false marks)."""
    marks = np.asarray(image_field(img, "marks") or [], dtype=np.float64).reshape(-1, 3)
    boxes = np.asarray(image_field(img, "lesions") or [], dtype=np.float64).reshape(-1, 4)
    if not (np.isfinite(marks).all() and np.isfinite(boxes).all()):
        raise EvaluationError("marks and lesion boxes must be finite numbers")
    t = float(tolerance_px)
    x, y, sc = marks[:, 0:1], marks[:, 1:2], marks[:, 2:3]
    hit = (
        (x >= boxes[:, 0] - t)
        & (x < boxes[:, 2] + t)
        & (y >= boxes[:, 1] - t)
        & (y < boxes[:, 3] + t)
    )  # (marks, lesions)
    best = np.where(hit, sc, -np.inf).max(axis=0, initial=-np.inf)
    false_scores = marks[~hit.any(axis=1), 2]
    return best, false_scores


def _collect(images: Iterable[Any], tolerance_px: float) -> tuple[np.ndarray, np.ndarray, int]:
    best, false, n_images = [], [], 0
    for img in images:
        b, f = _image_scores(img, tolerance_px)
        best.append(b)
        false.append(f)
        n_images += 1
    lesion_best = np.concatenate(best) if best else np.zeros(0)
    fp_scores = np.concatenate(false) if false else np.zeros(0)
    return lesion_best, fp_scores, n_images


def froc_curve(images: list[FrocImage], tolerance_px: float = 0.0) -> dict:
    """FROC operating points, one per distinct mark score (threshold descending).

    Returns {"thresholds", "sensitivity", "fp_per_image"} (numpy arrays) plus
    "n_images" and "n_lesions".  Points that change neither figure are
    dropped; each kept threshold is the score at which its point is reached.
    """
    lesion_best, fp_scores, n_images = _collect(images, tolerance_px)
    if n_images == 0:
        raise EvaluationError("FROC needs at least one image")
    if lesion_best.size == 0:
        raise EvaluationError("FROC needs at least one lesion")
    th = np.unique(np.r_[lesion_best[np.isfinite(lesion_best)], fp_scores])[::-1]
    hits = np.sort(lesion_best)
    fps = np.sort(fp_scores)
    sens = (hits.size - np.searchsorted(hits, th, side="left")) / lesion_best.size
    fppi = (fps.size - np.searchsorted(fps, th, side="left")) / n_images
    keep = np.r_[True, (np.diff(sens) != 0) | (np.diff(fppi) != 0)] if th.size else th.astype(bool)
    return {
        "thresholds": th[keep],
        "sensitivity": sens[keep],
        "fp_per_image": fppi[keep],
        "n_images": n_images,
        "n_lesions": int(lesion_best.size),
    }


def sensitivity_at_fp(curve: dict, fp_per_image: float) -> float:
    """Highest sensitivity among points with fp_per_image <= the limit (0 if none)."""
    fppi = np.asarray(curve["fp_per_image"], dtype=np.float64)
    sens = np.asarray(curve["sensitivity"], dtype=np.float64)
    ok = fppi <= fp_per_image + 1e-12
    return float(sens[ok].max()) if ok.any() else 0.0


def threshold_at_fp(curve: dict, fp_per_image: float) -> float:
    """Lowest curve threshold with fp_per_image <= the limit (+inf if none)."""
    fppi = np.asarray(curve["fp_per_image"], dtype=np.float64)
    th = np.asarray(curve["thresholds"], dtype=np.float64)
    ok = fppi <= fp_per_image + 1e-12
    return float(th[ok].min()) if ok.any() else float("inf")


def lesion_hits(images: list[FrocImage], threshold: float, tolerance_px: float = 0.0) -> list[bool]:
    """Per lesion (images in order, then lesions in order): found by a mark scoring >= threshold."""
    lesion_best, _, _ = _collect(images, tolerance_px)
    return [bool(b >= threshold) for b in lesion_best]
