"""One evaluation run: breast- and exam-level metrics, FROC, calibration,
stratified results and a difficulty summary, written as evaluation.json plus
roc.png, froc.png and reliability.png.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeGuard

import numpy as np

from engine.ai.evaluation.froc import (
    FrocImage,
    froc_curve,
    image_field,
    lesion_hits,
    sensitivity_at_fp,
    threshold_at_fp,
)
from engine.ai.evaluation.metrics import (
    MIN_CASES_PER_CLASS,
    EvaluationError,
    bootstrap_auc_ci,
    calibration,
    few_cases_warning,
    roc_auc,
    roc_curve,
    sensitivity_at_specificity,
    too_few_cases,
)
from engine.ai.results import DENSITY_CLASSES, NOT_FOR_CLINICAL_USE

ALPHA = 0.05
SPECIFICITIES = (0.90, 0.95)
FROC_FP_POINTS = (0.25, 0.5, 1.0, 2.0)
SIZE_BINS_MM = ((0.0, 8.0), (8.0, 15.0), (15.0, math.inf))
CNR_BINS = ((0.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, math.inf))
PLOTS = ("roc.png", "froc.png", "reliability.png")


@dataclass
class BreastPrediction:
    exam_id: str
    laterality: str
    label: int  # 1 cancer, 0 not
    prob: float
    density: str | None = None
    lesion_type: str | None = None
    lesion_size_mm: float | None = None
    cnr: float | None = None  # lesion CNR, mean of CC and MLO where both exist


def _r(x: Any, nd: int = 4) -> float | None:
    """A JSON-safe rounded float: None for missing, NaN or infinite values."""
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


def _f(x: Any) -> float | None:
    """A JSON-safe float at full precision (thresholds)."""
    return _r(x, 17)


def _label(lo: float, hi: float, unit: str = "") -> str:
    return f">= {lo:g}{unit}" if math.isinf(hi) else f"{lo:g}-{hi:g}{unit}"


def _median(values: Sequence[float]) -> float | None:
    return float(np.median(values)) if len(values) else None


def _auc_block(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray | None, n_resamples: int, seed: int
) -> dict:
    """AUC, its bootstrap CI and the counts; too_few: fewer than
    MIN_CASES_PER_CLASS of a class, and then no CI (metrics.py says why)."""
    n_pos, n_neg = int(y.sum()), int(y.size - y.sum())
    few = too_few_cases(n_pos, n_neg)
    out: dict[str, float | bool | None] = {
        "auc": None, "ci_low": None, "ci_high": None, "n_pos": n_pos, "n_neg": n_neg,
        "too_few": few,
    }
    if n_pos and n_neg:
        out["auc"] = _r(roc_auc(y, p))
        if n_resamples > 0 and not few:
            lo, hi = bootstrap_auc_ci(y, p, n_resamples, ALPHA, seed, groups)
            out["ci_low"], out["ci_high"] = _r(lo), _r(hi)
    return out


def _froc_block(froc_images: list[FrocImage], tolerance_px: float) -> tuple[dict | None, Any]:
    if not froc_images or not any(len(_lesions(i)) for i in froc_images):
        return None, None
    curve = froc_curve(froc_images, tolerance_px)
    t1 = threshold_at_fp(curve, 1.0)
    block = {
        "n_images": curve["n_images"],
        "n_lesions": curve["n_lesions"],
        "tolerance_px": _r(tolerance_px, 2),
        "sensitivity_at_fp": {f"{fp:g}": _r(sensitivity_at_fp(curve, fp)) for fp in FROC_FP_POINTS},
        "threshold_at_1fp": _f(t1),
        "curve": {
            k: [_r(v, 6) for v in curve[k]] for k in ("thresholds", "sensitivity", "fp_per_image")
        },
    }
    return block, curve


def _lesions(img: Any) -> list:
    return image_field(img, "lesions") or []


def _lesion_cnrs(images: list[FrocImage]) -> list[float | None]:
    out: list[float | None] = []
    for img in images:
        n = len(_lesions(img))
        cnr = image_field(img, "lesion_cnr") or []
        out.extend(list(cnr)[:n] + [None] * max(0, n - len(cnr)))
    return out


def _in(v: float | None, lo: float, hi: float) -> TypeGuard[float]:
    return v is not None and math.isfinite(v) and lo <= v < hi


def _by_cnr(
    pos: list[BreastPrediction], froc_images: list[FrocImage], curve: Any, tolerance_px: float
) -> list[dict]:
    hits = cnrs = None
    if curve is not None:
        hits = lesion_hits(froc_images, threshold_at_fp(curve, 1.0), tolerance_px)
        cnrs = _lesion_cnrs(froc_images)
    rows = []
    for lo, hi in CNR_BINS:
        sel = [b for b in pos if _in(b.cnr, lo, hi)]
        row = {
            "label": _label(lo, hi),
            "lo": lo,
            "hi": _r(hi),
            "n_pos": len(sel),
            "median_prob": _r(_median([b.prob for b in sel])),
            "n_lesions": None,
            "hit_rate_at_1fp": None,
        }
        if hits is not None and cnrs is not None:
            h = [hit for hit, c in zip(hits, cnrs, strict=True) if _in(c, lo, hi)]
            row["n_lesions"] = len(h)
            row["hit_rate_at_1fp"] = _r(sum(h) / len(h)) if h else None
        rows.append(row)
    return rows


def _difficulty(pos: list[BreastPrediction]) -> dict:
    cnr = [b.cnr for b in pos if b.cnr is not None and math.isfinite(b.cnr)]
    dens = [b.density.lower() for b in pos if b.density]
    size = [b.lesion_size_mm for b in pos if b.lesion_size_mm is not None]
    return {
        "n_pos": len(pos),
        "frac_cnr_below_3": _r(sum(c < 3 for c in cnr) / len(cnr)) if cnr else None,
        "median_cnr": _r(_median(cnr), 2),
        "n_with_cnr": len(cnr),
        "frac_dense_cd": _r(sum(d in ("c", "d") for d in dens) / len(dens)) if dens else None,
        "n_with_density": len(dens),
        "frac_below_8mm": _r(sum(s < 8 for s in size) / len(size)) if size else None,
        "n_with_size": len(size),
    }


def _exam_level(
    y: np.ndarray, p: np.ndarray, exam_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exams, and per exam the highest label and the highest breast probability."""
    exams, inv = np.unique(exam_ids, return_inverse=True)
    ey = np.zeros(exams.size, dtype=int)
    ep = np.full(exams.size, -np.inf)
    np.maximum.at(ey, inv, y)
    np.maximum.at(ep, inv, p)
    return exams, ey, ep


def _sens_at_spec(y: np.ndarray, p: np.ndarray, has_pos: bool, neg_mask: np.ndarray) -> list:
    rows = []
    for spec in SPECIFICITIES:
        s, t = (None, None)
        if has_pos and neg_mask.any():
            s, t = sensitivity_at_specificity(y, p, spec)
        rows.append({"specificity": spec, "sensitivity": _r(s), "threshold": _f(t)})
    return rows


def _by_density(
    dens: np.ndarray,
    y: np.ndarray,
    p: np.ndarray,
    exam_ids: np.ndarray,
    n_resamples: int,
    seed: int,
) -> dict:
    out = {}
    for d in DENSITY_CLASSES:
        m = dens == d
        out[d] = _auc_block(y[m], p[m], exam_ids[m], n_resamples, seed)
    return out


def _by_size(
    breasts: list[BreastPrediction],
    pos: list[BreastPrediction],
    y: np.ndarray,
    p: np.ndarray,
    exam_ids: np.ndarray,
    n_resamples: int,
    seed: int,
) -> list[dict]:
    """AUC of each lesion-size bin's positives against every negative."""
    neg_mask = y == 0
    rows = []
    for lo, hi in SIZE_BINS_MM:
        m = neg_mask | np.array([b.label == 1 and _in(b.lesion_size_mm, lo, hi) for b in breasts])
        cnr = [
            b.cnr for b in pos if _in(b.lesion_size_mm, lo, hi) and _in(b.cnr, -math.inf, math.inf)
        ]
        row = {"label": _label(lo, hi, " mm"), "lo_mm": lo, "hi_mm": _r(hi)}
        row |= _auc_block(y[m], p[m], exam_ids[m], n_resamples, seed)
        row |= {
            "cnr_median": _r(_median(cnr), 2),
            "cnr_min": _r(min(cnr, default=None), 2),
            "cnr_max": _r(max(cnr, default=None), 2),
        }
        rows.append(row)
    return rows


def _calibration_json(calib: dict) -> dict:
    return {
        "ece": _r(calib["ece"]),
        "n": calib["n"],
        "bins": [
            {k: (_r(v) if isinstance(v, float) else v) for k, v in b.items()} for b in calib["bins"]
        ],
    }


def _settings(n_resamples: int, seed: int, tolerance_px: float) -> dict:
    return {
        "n_resamples": n_resamples,
        "seed": seed,
        "alpha": ALPHA,
        "tolerance_px": _r(tolerance_px, 2),
        "ci": "percentile bootstrap",
        "min_cases_per_class": MIN_CASES_PER_CLASS,  # fewer: no CI, and a warning
    }


def _counts(
    exams: np.ndarray,
    breasts: list[BreastPrediction],
    pos: list[BreastPrediction],
    neg_mask: np.ndarray,
    froc_images: list[FrocImage],
) -> dict:
    return {
        "exams": int(exams.size),
        "breasts": len(breasts),
        "positives": len(pos),
        "negatives": int(neg_mask.sum()),
        "images": len(froc_images),
        "lesions": sum(len(_lesions(i)) for i in froc_images),
    }


def _write_outputs(
    plots: ModuleType,
    result: dict,
    out_dir: Path,
    curves_in: dict[str, tuple[np.ndarray, np.ndarray]],
    froc_curve_data: Any,
) -> None:
    """The three plots, then evaluation.json (written atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = {}
    for name, (yy, pp) in curves_in.items():
        if yy.any() and not yy.all():
            fpr, tpr, _ = roc_curve(yy, pp)
            curves[name] = (fpr, tpr, roc_auc(yy, pp))
    plots.plot_roc(curves, out_dir / "roc.png", "ROC")
    plots.plot_froc(froc_curve_data, out_dir / "froc.png", "FROC (lesion level)")
    plots.plot_reliability(
        result["calibration"], out_dir / "reliability.png", "Reliability (breast level)"
    )
    tmp = out_dir / "evaluation.json.tmp"
    tmp.write_text(json.dumps(result, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(out_dir / "evaluation.json")


def evaluate_predictions(
    breasts: list[BreastPrediction],
    froc_images: list[FrocImage],
    out_dir: Path,
    n_resamples: int = 2000,
    seed: int = 0,
    tolerance_px: float = 0.0,
) -> dict:
    """Compute every figure, write evaluation.json and the plots to out_dir, return the dict.

    Breast-level CIs resample exams; exam-level figures use the highest breast
    probability of each exam.  The lesion hit rate by CNR needs each
    FrocImage's optional lesion_cnr (one value per lesion box).
    """
    from engine.ai.evaluation import plots

    if not breasts:
        raise EvaluationError("there are no predictions to evaluate")
    froc_images = list(froc_images or [])
    y = np.array([int(b.label) for b in breasts])
    p = np.array([float(b.prob) for b in breasts])
    exam_ids = np.array([str(b.exam_id) for b in breasts])
    exams, ey, ep = _exam_level(y, p, exam_ids)
    pos = [b for b in breasts if b.label == 1]
    neg_mask = y == 0
    dens = np.array([(b.density or "").lower() for b in breasts])

    froc, curve = _froc_block(froc_images, tolerance_px)
    sens_spec = _sens_at_spec(y, p, bool(pos), neg_mask)
    calib = calibration(y, p)
    by_density = _by_density(dens, y, p, exam_ids, n_resamples, seed)
    by_size = _by_size(breasts, pos, y, p, exam_ids, n_resamples, seed)

    breast_auc = _auc_block(y, p, exam_ids, n_resamples, seed)
    exam_auc = _auc_block(ey, ep, None, n_resamples, seed)
    result = {
        "notice": NOT_FOR_CLINICAL_USE,
        "warning": few_cases_warning(
            (breast_auc["n_pos"], breast_auc["n_neg"], "breasts"),
            (exam_auc["n_pos"], exam_auc["n_neg"], "exams"),
        ),
        "settings": _settings(n_resamples, seed, tolerance_px),
        "counts": _counts(exams, breasts, pos, neg_mask, froc_images),
        "breast_auc": breast_auc,
        "exam_auc": exam_auc,
        "sensitivity_at_specificity": sens_spec,
        "calibration": _calibration_json(calib),
        "froc": froc,
        "by_density": by_density,
        "by_size": by_size,
        "by_cnr": _by_cnr(pos, froc_images, curve, tolerance_px),
        "difficulty": _difficulty(pos),
        "plots": list(PLOTS),
    }
    _write_outputs(plots, result, out_dir, {"Breast": (y, p), "Exam": (ey, ep)}, curve)
    return result
