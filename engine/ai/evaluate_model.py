"""`main.py evaluate`: run a model package over a labelled dataset exactly as
the workstation would (the same analysis code), then score it: breast and
exam AUC with bootstrap CIs, sensitivity at fixed specificity, calibration,
FROC of the marks, strata by density, lesion size and CNR.

It runs on the backend the runtime was loaded with: ONNX Runtime needs nothing
beyond a workstation install; TensorFlow (``--backend tensorflow``) needs the
``train`` extra, which engine/ai/runtime.py checks before importing it."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom import Dataset

from engine.ai.analyze import analyze_datasets
from engine.ai.datasets.records import ImageRecord
from engine.ai.evaluation.card import render_model_card
from engine.ai.evaluation.froc import FrocImage
from engine.ai.evaluation.report import BreastPrediction, evaluate_predictions
from engine.ai.package import ModelPackage, read_package, write_manifest
from engine.ai.preprocess import pixel_spacing
from engine.ai.results import ExamResult
from engine.ai.runtime import Runtime
from engine.dicom.reader import read_dataset
from engine.errors import DicomReadError, MammoDeskError

log = logging.getLogger(__name__)
MARK_FLOOR = 0.02  # every candidate down to this score, to trace the FROC curve
HIT_TOLERANCE_MM = 5.0


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _density_block(pairs: list[tuple[str, str]]) -> dict:
    classes = "abcd"
    confusion = [[0] * 4 for _ in classes]
    for ref, pred in pairs:
        confusion[classes.index(ref)][classes.index(pred)] += 1
    n = len(pairs)
    exact = sum(r == p for r, p in pairs)
    near = sum(abs(classes.index(r) - classes.index(p)) <= 1 for r, p in pairs)
    return {
        "n": n,
        "accuracy": round(exact / n, 4) if n else None,
        "within_one": round(near / n, 4) if n else None,
        "confusion": {"rows_reference_cols_predicted": list(classes), "counts": confusion},
    }


@dataclass
class _Collected:
    """What the analysis of the exams gathered, for scoring."""

    preds: list[BreastPrediction] = field(default_factory=list)
    froc: list[FrocImage] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tol_px: list[float] = field(default_factory=list)
    density_pairs: list[tuple[str, str]] = field(default_factory=list)  # (reference, predicted)
    outside_training: int = 0  # exams the domain check flagged (scored all the same)


def _read_exam(recs: Sequence[ImageRecord], got: _Collected) -> list[Dataset] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [read_dataset(r.path) for r in recs]
    except (DicomReadError, OSError) as exc:
        got.failed[f"unreadable: {str(exc)[:80]}"] += 1
        return None


def _collect_breasts(
    exam_id: str, recs: Sequence[ImageRecord], result: ExamResult, got: _Collected
) -> None:
    # The model is measured on everything it read: a study the domain check
    # puts outside the training is scored by the numbers the reader is not shown.
    got.outside_training += bool(result.outside_training)
    for side in ("R", "L"):
        side_recs = [r for r in recs if r.laterality == side]
        breast = result.breast(side)
        probability = None if breast is None else (
            breast.probability if breast.probability is not None else breast.withheld_probability)
        if not side_recs or breast is None or probability is None:
            got.failed["breast not assessed"] += bool(side_recs)
            continue
        first = side_recs[0]
        if first.density and breast.density:
            got.density_pairs.append((first.density, breast.density))
        got.preds.append(
            BreastPrediction(
                exam_id,
                side,
                max(r.cancer for r in side_recs),
                probability,
                first.density,
                first.lesion_type,
                first.lesion_size_mm,
                _mean([r.cnr for r in side_recs]),
            )
        )


def _collect_marks(
    exam_id: str,
    recs: Sequence[ImageRecord],
    datasets: Sequence[Dataset],
    result: ExamResult,
    got: _Collected,
) -> None:
    by_uid = {v.sop_instance_uid: v for v in result.views}
    for r, ds in zip(recs, datasets, strict=True):
        view = by_uid.get(str(ds.SOPInstanceUID))
        if view is None or not view.applicable:
            continue
        boxes = [(b.x0, b.y0, b.x1, b.y1) for b in r.boxes if b.malignant]
        got.froc.append(
            FrocImage(
                f"{exam_id}/{r.laterality}{r.view}",
                [(m.x, m.y, m.score) for m in view.marks or view.withheld_marks],
                boxes,
                [r.cnr] * len(boxes),
            )
        )
        got.tol_px.append(HIT_TOLERANCE_MM / (pixel_spacing(ds) or 0.1))


def evaluate_model(
    records: Sequence[ImageRecord],
    runtime: Runtime,
    out_dir: Path,
    n_resamples: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    exams: dict[str, list[ImageRecord]] = defaultdict(list)
    for r in records:
        exams[r.exam_id].append(r)
    got = _Collected()
    for n, (exam_id, recs) in enumerate(exams.items()):
        datasets = _read_exam(recs, got)
        if datasets is None:
            continue
        t0 = time.perf_counter()
        result = analyze_datasets(datasets, runtime, mark_threshold=MARK_FLOOR)
        got.times.append(time.perf_counter() - t0)
        _collect_breasts(exam_id, recs, result, got)
        _collect_marks(exam_id, recs, datasets, result, got)
        if progress:
            progress(n + 1, len(exams))
    if not got.preds:
        raise MammoDeskError("no breast of the dataset could be assessed")
    tol = float(np.median(got.tol_px)) if got.tol_px else 0.0
    evaluation = evaluate_predictions(
        got.preds, got.froc, out_dir, n_resamples=n_resamples, tolerance_px=tol
    )
    _add_run_details(evaluation, got, runtime, len(exams))
    tmp = out_dir / "evaluation.json.tmp"
    tmp.write_text(json.dumps(evaluation, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(out_dir / "evaluation.json")
    return evaluation


def _add_run_details(evaluation: dict, got: _Collected, runtime: Runtime, exams: int) -> None:
    evaluation["density"] = _density_block(got.density_pairs)
    evaluation["model"] = {
        "name": runtime.package.name,
        "version": runtime.package.version,
        "backend": runtime.backend,
        "device": runtime.device,
    }
    evaluation["analysis"] = {
        "exams": exams,
        "not_assessed": dict(got.failed),
        "outside_training": got.outside_training,
        "median_exam_s": round(float(np.median(got.times)), 3) if got.times else None,
        "mark_hit_rule": f"mark centre within {HIT_TOLERANCE_MM:g} mm of the lesion box",
    }


def update_package(pkg_dir: Path, evaluation: dict, eval_dir: Path, dataset: dict) -> ModelPackage:
    """Put a held-out evaluation into a package: its files, the manifest's
    metrics and a regenerated model card; then re-hash."""
    pkg = read_package(pkg_dir)
    target = pkg_dir / "evaluation"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for f in eval_dir.iterdir():
        if f.is_file():
            shutil.copy2(f, target / f.name)
    manifest = dict(pkg.manifest)
    manifest["metrics"] = dict(manifest.get("metrics", {}))
    manifest["metrics"]["held_out"] = {
        k: evaluation.get(k)
        for k in ("warning", "counts", "breast_auc", "exam_auc", "sensitivity_at_specificity",
                  "difficulty")
    }
    manifest["metrics"]["held_out"]["froc"] = {
        k: v for k, v in (evaluation.get("froc") or {}).items() if k != "curve"
    }
    manifest["evaluation_data"] = dataset
    (pkg_dir / "MODEL_CARD.md").write_text(render_model_card(manifest, evaluation))
    write_manifest(pkg_dir, manifest)
    print(f"updated {pkg_dir.name}: card and held-out metrics", file=sys.stderr)
    return read_package(pkg_dir)
