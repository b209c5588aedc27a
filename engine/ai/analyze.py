"""One screening exam through the model: choose the views, decode and
prepare them side by side in worker processes (engine.ai.prepare_pool),
run each breast's CC + MLO, turn the outputs into scores, marks, registered
heatmaps and density."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pydicom

from engine.ai.domain import DomainCheck
from engine.ai.marks import find_marks, register_heatmap
from engine.ai.package import ModelPackage
from engine.ai.prepare_pool import prepare_views
from engine.ai.preprocess import NotApplicable, Prepared, applicability
from engine.ai.results import (
    DENSITY_CLASSES,
    BreastResult,
    ExamResult,
    ViewResult,
    category_from_thresholds,
)
from engine.ai.runtime import Runtime
from engine.dicom.header import InstanceHeader, instance_header
from engine.errors import MammoDeskError

SIDES = ("R", "L")
POSITIONS = ("CC", "MLO")


@dataclass
class _View:
    ds: pydicom.Dataset
    header: InstanceHeader
    result: ViewResult
    prepared: Prepared | None = None


@dataclass(frozen=True)
class _Ready:
    """A breast whose CC and MLO are both prepared: what the model reads."""

    side: str
    cc: _View
    mlo: _View
    cc_input: Prepared
    mlo_input: Prepared


def _view_result(h: InstanceHeader) -> ViewResult:
    return ViewResult(
        view=h.view.label,
        laterality=h.view.laterality or "",
        view_position=h.view.view or "",
        sop_instance_uid=h.sop_instance_uid,
        sop_class_uid=h.sop_class_uid,
        series_instance_uid=h.series_instance_uid,
        rows=int(h.rows or 0),
        columns=int(h.columns or 0),
    )


def _choose(views: list[_View]) -> dict[tuple[str, str], _View]:
    """One image per breast and view; a repeated view uses the last one taken."""
    chosen: dict[tuple[str, str], _View] = {}
    for v in sorted(
        views, key=lambda v: (v.header.instance_number or 0, v.header.sop_instance_uid)
    ):
        if v.result.reason:
            continue
        key = (v.result.laterality, v.result.view_position)
        if key in chosen:
            chosen[key].result.reason = "repeated view; the model read the later image"
        chosen[key] = v
    return chosen


def _prepare(views: list[_View], runtime: Runtime) -> None:
    """Each chosen view's model input, or the reason it has none."""
    outcomes = prepare_views([v.ds for v in views], runtime.spec)
    for v, outcome in zip(views, outcomes, strict=True):
        if isinstance(outcome, NotApplicable):
            v.result.reason = str(outcome)
        elif isinstance(outcome, MammoDeskError):
            v.result.reason = f"cannot decode the image: {outcome}"
        else:
            v.prepared = outcome


def _collect(datasets: Sequence[pydicom.Dataset]) -> tuple[list[_View], set[str]]:
    """Every image with its header and applicability; they must share one study."""
    if not datasets:
        raise MammoDeskError("no images to analyse")
    views = []
    for ds in datasets:
        h = instance_header(ds)
        v = _View(ds, h, _view_result(h))
        v.result.reason = applicability(ds)
        views.append(v)
    study_uids = {v.header.study_instance_uid for v in views}
    if len(study_uids) != 1:
        raise MammoDeskError(
            "the images belong to more than one study; analyse one study at a time"
        )
    return views, study_uids


def _pair_breasts(
    chosen: dict[tuple[str, str], _View],
) -> tuple[list[BreastResult], list[_Ready]]:
    """Breasts with a prepared CC and MLO are ready; the rest are not assessed."""
    breasts: list[BreastResult] = []
    ready: list[_Ready] = []
    for side in SIDES:
        cc, mlo = chosen.get((side, "CC")), chosen.get((side, "MLO"))
        if (cc is not None and mlo is not None
                and cc.prepared is not None and mlo.prepared is not None):
            ready.append(_Ready(side, cc, mlo, cc.prepared, mlo.prepared))
            continue
        missing = [
            f"{side}{pos}"
            for pos, v in (("CC", cc), ("MLO", mlo))
            if v is None or v.prepared is None
        ]
        why = "; ".join(
            f"{name}: {v.result.reason}" if v is not None else f"{name} missing"
            for name, v in ((f"{side}{p}", chosen.get((side, p))) for p in POSITIONS)
            if f"{name}" in missing
        )
        breasts.append(BreastResult(side, None, None, f"not assessed ({why})"))
    return breasts, ready


def _predict(ready: list[_Ready], runtime: Runtime) -> dict[str, np.ndarray]:
    outputs: dict[str, np.ndarray] = {}
    if ready:
        cc_in = np.stack([r.cc_input.image for r in ready])[..., None]
        mlo_in = np.stack([r.mlo_input.image for r in ready])[..., None]
        outputs = runtime.predict(cc_in, mlo_in)
    return outputs


def _score_breasts(
    ready: list[_Ready],
    outputs: dict[str, np.ndarray],
    manifest: dict,
    mark_threshold: float | None,
) -> list[BreastResult]:
    """Scores, marks and heatmaps onto each read view; one result per breast."""
    stride = int(manifest["outputs"].get("heatmap_stride", 8))
    if mark_threshold is None:
        mark_threshold = float(manifest.get("operating_points", {}).get("marks", 0.5))
    breasts: list[BreastResult] = []
    for j, r in enumerate(ready):
        views = ((r.cc, r.cc_input, "heat_cc"), (r.mlo, r.mlo_input, "heat_mlo"))
        for k, (v, prepared, key) in enumerate(views):
            heat = outputs[key][j, ..., 0]
            geom = prepared.geometry
            v.result.score = round(float(1 / (1 + np.exp(-outputs["view_logits"][j, k]))), 4)
            v.result.marks = find_marks(heat, geom, stride, mark_threshold)
            v.result.heatmap = register_heatmap(heat, geom, stride)
        dens = outputs["density"][j]
        breasts.append(
            BreastResult(
                r.side,
                round(float(outputs["breast_prob"][j, 0]), 4),
                DENSITY_CLASSES[int(np.argmax(dens))],
            )
        )
    return breasts


def _exam_result(
    study_uid: str,
    runtime: Runtime,
    manifest: dict,
    breasts: list[BreastResult],
    views: list[_View],
) -> ExamResult:
    scored = [b for b in breasts if b.probability is not None]
    probabilities = [b.probability for b in breasts if b.probability is not None]
    exam_score = round(100 * max(probabilities), 1) if probabilities else None
    reason = None
    if not scored:
        reason = "no breast could be assessed"
    elif len(scored) < len(SIDES):
        reason = "only one breast assessed"
    dens_letters = [b.density for b in scored if b.density]
    return ExamResult(
        study_instance_uid=study_uid,
        model_name=runtime.package.name,
        model_version=runtime.package.version,
        backend=runtime.backend,
        device=runtime.device,
        created_at=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        exam_score=exam_score,
        category=category_from_thresholds(
            exam_score, manifest["outputs"].get("category_thresholds", [])
        ),
        density=max(dens_letters) if dens_letters else None,
        breasts=breasts,
        views=[v.result for v in views],
        reason=reason,
    )


_checks: dict[int, tuple[ModelPackage, DomainCheck | None]] = {}


def domain_check(package: ModelPackage) -> DomainCheck | None:
    """The package's domain check, read once per loaded package (None: it has none)."""
    hit = _checks.get(id(package))
    if hit is None or hit[0] is not package:
        hit = (package, DomainCheck.from_package(package))
        _checks[id(package)] = hit
    return hit[1]


def _check_domain(ready: list[_Ready], outputs: dict[str, np.ndarray],
                  runtime: Runtime) -> tuple[bool | None, list[str]]:
    """Whether the study is outside the training (None: no check possible)
    and why; each read view gets its verdict."""
    check = domain_check(runtime.package)
    if check is None or not ready or "features_cc" not in outputs:
        return None, []
    reasons: list[str] = []
    for j, r in enumerate(ready):
        for v, prepared, position in ((r.cc, r.cc_input, "CC"), (r.mlo, r.mlo_input, "MLO")):
            features = outputs[f"features_{position.lower()}"][j]
            verdict = (check.verdict(position, features, prepared.stats) if prepared.stats
                       else check.view_verdict(prepared, features, position))
            v.result.domain = {"flagged": verdict.flagged, "distance": round(verdict.distance, 2),
                               "threshold": round(verdict.threshold, 2),
                               "reasons": verdict.reasons}
            reasons += [f"{v.result.view}: {why}" for why in verdict.reasons]
    return bool(reasons), reasons


def analyze_datasets(
    datasets: Sequence[pydicom.Dataset],
    runtime: Runtime,
    mark_threshold: float | None = None,
) -> ExamResult:
    """Analyse one study's images (any order, any mix of views)."""
    t0 = time.perf_counter()
    views, study_uids = _collect(datasets)
    chosen = _choose(views)
    _prepare(list(chosen.values()), runtime)
    t_prep = time.perf_counter()

    breasts, ready = _pair_breasts(chosen)
    outputs = _predict(ready, runtime)
    t_inf = time.perf_counter()

    manifest = runtime.package.manifest
    breasts += _score_breasts(ready, outputs, manifest, mark_threshold)
    breasts.sort(key=lambda b: SIDES.index(b.laterality))
    outside, reasons = _check_domain(ready, outputs, runtime)
    result = _exam_result(study_uids.pop(), runtime, manifest, breasts, views)
    result.outside_training = outside
    if outside:
        result.withhold(reasons)
    t_end = time.perf_counter()
    result.timings_s = {
        "prepare": round(t_prep - t0, 4),
        "inference": round(t_inf - t_prep, 4),
        "postprocess": round(t_end - t_inf, 4),
        "total": round(t_end - t0, 4),
    }
    return result
