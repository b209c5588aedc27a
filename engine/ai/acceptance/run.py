"""Acceptance: a candidate model runs in shadow before it may go live.

Both the live model and the candidate analyse the same studies with the
workstation's own analysis code (engine.ai.analyze), on ONNX Runtime when
the package has an ONNX file: the shipped acceptance set (shipped_set) and,
when the library holds enough labelled breasts, the site's own (site_set).
The candidate is refused when any of these holds:

- on either set, the lower bound of the 95% interval of its AUC minus the
  live model's is below -0.02, or its sensitivity at the live model's
  operating point is lower (compare.py);
- its breast AUC or mean probability on the shipped set differs from what
  its manifest declares (``metrics.acceptance``) by more than 0.01: a model
  damaged or exported wrongly after it was measured;
- its TensorFlow and ONNX Runtime backends disagree by more than 1e-4 on a
  breast probability (checked on the first AGREEMENT_EXAMS studies when
  TensorFlow is installed; the report says when it could not be checked).

The report (a dict, JSON-ready) lists each check, passed, failed or not
run, with one line each; engine.ai.activation keeps it beside the candidate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from engine.ai.acceptance import compare
from engine.ai.acceptance.shipped_set import Case, cases, load_spec
from engine.ai.activation import manifest_digest
from engine.ai.analyze import analyze_datasets
from engine.ai.package import ModelPackage
from engine.ai.results import NOT_FOR_CLINICAL_USE, ExamResult
from engine.ai.runtime import Runtime, load_runtime, tensorflow_installed
from engine.errors import MammoDeskError
from engine.library.store import Library
from engine.reading.audit_benchmarks import operating_point

log = logging.getLogger(__name__)
REPORT_FORMAT = "mammodesk-acceptance-report"
DECLARED_TOLERANCE = 0.01
BACKEND_TOLERANCE = 1e-4
AGREEMENT_EXAMS = 4
Progress = Callable[[str, int, int], None]


@dataclass
class Scores:
    """Per breast: truth and each model's probability."""

    labels: list[int] = field(default_factory=list)
    active: list[float] = field(default_factory=list)
    candidate: list[float] = field(default_factory=list)
    skipped: int = 0  # breasts a model could not assess

    @property
    def positives(self) -> int:
        return sum(self.labels)

    @property
    def negatives(self) -> int:
        return len(self.labels) - self.positives


def _probability(result: ExamResult, side: str) -> float | None:
    """What the model said of a breast, also when the domain check withheld it."""
    b = result.breast(side)
    if b is None:
        return None
    return b.probability if b.probability is not None else b.withheld_probability


def _backend(pkg: ModelPackage) -> str:
    return "onnxruntime" if pkg.onnx_path is not None else "tensorflow"


def _load(pkg: ModelPackage, backend: str, who: str) -> Runtime:
    try:
        return load_runtime(pkg, backend)
    except MammoDeskError:
        raise
    except Exception as exc:  # a damaged network file: onnxruntime/keras errors vary
        raise MammoDeskError(f"the {who} model {pkg.describe()} cannot be loaded on "
                             f"{backend} ({type(exc).__name__})") from exc


def _score(found: Iterable[Case], active: Runtime, candidate: Runtime, scores: Scores,
           agreement: Callable[[Case, ExamResult], None] | None = None,
           progress: Callable[[int], None] | None = None) -> None:
    for n, case in enumerate(found):
        got_a = analyze_datasets(case.datasets, active)
        got_c = analyze_datasets(case.datasets, candidate)
        if agreement is not None:
            agreement(case, got_c)
        for side, label in case.labels.items():
            pa, pc = _probability(got_a, side), _probability(got_c, side)
            if pa is None or pc is None:
                scores.skipped += 1
                continue
            scores.labels.append(label)
            scores.active.append(pa)
            scores.candidate.append(pc)
        if progress:
            progress(n + 1)


@dataclass
class _Agreement:
    """TensorFlow against ONNX Runtime on the candidate, on the first studies."""

    pkg: ModelPackage
    exams: int = AGREEMENT_EXAMS
    runtime: Runtime | None = None
    worst: float = 0.0
    compared: int = 0
    why_not: str | None = None

    def __post_init__(self) -> None:
        if self.pkg.onnx_path is None:
            self.why_not = "the package has no ONNX file; only TensorFlow runs it"
        elif not tensorflow_installed():
            self.why_not = "TensorFlow is not installed here; only ONNX Runtime was run"

    def __call__(self, case: Case, onnx_result: ExamResult) -> None:
        if self.why_not or self.compared >= self.exams:
            return
        if self.runtime is None:
            self.runtime = _load(self.pkg, "tensorflow", "candidate")
        tf_result = analyze_datasets(case.datasets, self.runtime)
        for side in case.labels:
            a, b = _probability(onnx_result, side), _probability(tf_result, side)
            if a is not None and b is not None:
                self.worst = max(self.worst, abs(a - b))
        self.compared += 1

    def check(self) -> dict[str, Any]:
        if self.why_not:
            return _check("backends_agree", "package", None, self.why_not)
        ok = self.worst <= BACKEND_TOLERANCE
        return _check("backends_agree", "package", ok,
                      f"TensorFlow and ONNX Runtime differ by at most {self.worst:.2g} on "
                      f"{self.compared} studies (limit {BACKEND_TOLERANCE:g})")


def _check(name: str, on: str, passed: bool | None, detail: str) -> dict[str, Any]:
    return {"name": name, "set": on, "passed": passed, "detail": detail}


def _set_checks(on: str, s: Scores, threshold: float | None) -> tuple[list[dict], dict]:
    y, a, c = (np.asarray(v) for v in (s.labels, s.active, s.candidate))
    cmp_auc = compare.compare_auc(y, a, c)
    figures: dict[str, Any] = {
        "positives": s.positives, "negatives": s.negatives, "not_assessed": s.skipped,
        "auc_active": round(cmp_auc.auc_active, 4),
        "auc_candidate": round(cmp_auc.auc_candidate, 4),
        "auc_difference": round(cmp_auc.difference, 4),
        "auc_difference_ci95": [round(cmp_auc.ci_low, 4), round(cmp_auc.ci_high, 4)],
        "margin": -compare.MARGIN,
    }
    checks = [_check(
        "auc_non_inferior", on, cmp_auc.non_inferior,
        f"AUC {cmp_auc.auc_candidate:.3f} against {cmp_auc.auc_active:.3f}: difference "
        f"{cmp_auc.difference:+.3f}, 95% CI {cmp_auc.ci_low:+.3f} to {cmp_auc.ci_high:+.3f} "
        f"(refused below -{compare.MARGIN})")]
    if threshold is None:
        checks.append(_check("sensitivity_not_lower", on, None,
                             "the live model declares no recall operating point"))
    else:
        sens = compare.compare_sensitivity(y, a, c, threshold)
        figures["sensitivity"] = {
            "specificity": round(sens.specificity, 4),
            "threshold_active": round(sens.threshold_active, 4),
            "threshold_candidate": round(sens.threshold_candidate, 4),
            "active": round(sens.sensitivity_active, 4),
            "candidate": round(sens.sensitivity_candidate, 4)}
        checks.append(_check(
            "sensitivity_not_lower", on, sens.not_lower,
            f"sensitivity {sens.sensitivity_candidate:.3f} against "
            f"{sens.sensitivity_active:.3f} at the live model's specificity "
            f"{sens.specificity:.3f}"))
    return checks, figures


def _declared_check(pkg: ModelPackage, spec_name: str, s: Scores) -> dict[str, Any]:
    declared = (pkg.manifest.get("metrics") or {}).get("acceptance")
    if not isinstance(declared, dict) or declared.get("set") != spec_name:
        return _check("declared_metrics", "package", False,
                      f"the package declares no metrics on the acceptance set {spec_name}")
    measured = measured_metrics(s.labels, s.candidate)
    gaps = {k: abs(float(declared.get(k, np.nan)) - measured[k])
            for k in ("breast_auc", "mean_probability")}
    ok = all(np.isfinite(g) and g <= DECLARED_TOLERANCE for g in gaps.values())
    return _check("declared_metrics", "package", ok,
                  f"breast AUC {measured['breast_auc']:.4f} (declared "
                  f"{declared.get('breast_auc')}), mean probability "
                  f"{measured['mean_probability']:.4f} (declared "
                  f"{declared.get('mean_probability')}); tolerance {DECLARED_TOLERANCE}")


def measured_metrics(labels: list[int], probabilities: list[float]) -> dict[str, float]:
    """What a package declares about itself on the acceptance set."""
    y, p = np.asarray(labels), np.asarray(probabilities, dtype=float)
    return {"breast_auc": round(compare.auc(y, p), 4),
            "mean_probability": round(float(p.mean()), 4)}


def run_acceptance(candidate: ModelPackage, active: ModelPackage, *,
                   library: Library | None = None, spec: dict[str, Any] | None = None,
                   progress: Progress | None = None) -> dict[str, Any]:
    """Run the candidate in shadow against the live model; returns the report."""
    t0 = time.perf_counter()
    spec = spec or load_spec()
    total = len(spec["studies"])
    rt_active = _load(active, _backend(active), "live")
    rt_candidate = _load(candidate, _backend(candidate), "candidate")
    point = operating_point(active.manifest.get("operating_points") or {})
    threshold = point.probability if point else None
    agreement = _Agreement(candidate)
    shipped = Scores()
    _score(cases(spec), rt_active, rt_candidate, shipped, agreement,
           (lambda n: progress("acceptance set", n, total)) if progress else None)
    checks, sets = [], {}
    shipped_checks, sets["shipped"] = _set_checks("shipped", shipped, threshold)
    sets["shipped"]["name"] = spec["name"]
    checks += shipped_checks
    checks.append(_declared_check(candidate, spec["name"], shipped))
    checks.append(agreement.check())
    site_checks, sets["site"] = _site(library, rt_active, rt_candidate, threshold, progress)
    checks += site_checks
    failed = [c for c in checks if c["passed"] is False]
    accepted = not failed
    reason = (f"accepted: no check failed ({sum(c['passed'] is True for c in checks)} passed, "
              f"{sum(c['passed'] is None for c in checks)} not run)" if accepted else
              f"refused: {failed[0]['name'].replace('_', ' ')} on the {failed[0]['set']} "
              f"set: {failed[0]['detail']}")
    return {
        "format": REPORT_FORMAT, "made": datetime.now(UTC).isoformat(timespec="seconds"),
        "candidate": {"name": candidate.name, "version": candidate.version,
                      "manifest_sha256": manifest_digest(candidate),
                      "backend": rt_candidate.backend},
        "active": {"name": active.name, "version": active.version,
                   "backend": rt_active.backend},
        "accepted": accepted, "reason": reason, "checks": checks, "sets": sets,
        "seconds": round(time.perf_counter() - t0, 1), "notice": NOT_FOR_CLINICAL_USE,
    }


def _site(library: Library | None, rt_active: Runtime, rt_candidate: Runtime,
          threshold: float | None, progress: Progress | None) -> tuple[list[dict], dict]:
    from engine.ai.acceptance.site_set import MIN_EACH, site_cases, site_set

    if library is None:
        return ([_check("site_cases", "site", None, "no library was given")],
                {"used": False})
    chosen = site_set(library)
    if not chosen.usable:
        why = (f"the site has {chosen.positives} positive and {chosen.negatives} negative "
               f"breasts with known truth; at least {MIN_EACH} of each are needed")
        return [_check("site_cases", "site", None, why)], {
            "used": False, "positives": chosen.positives, "negatives": chosen.negatives}
    scores = Scores()
    total = len(chosen.labels)
    _score(site_cases(library, chosen), rt_active, rt_candidate, scores,
           progress=(lambda n: progress("site cases", n, total)) if progress else None)
    if scores.positives < MIN_EACH or scores.negatives < MIN_EACH:
        why = (f"only {scores.positives} positive and {scores.negatives} negative site "
               "breasts could be assessed")
        return [_check("site_cases", "site", None, why)], {"used": False}
    checks, figures = _set_checks("site", scores, threshold)
    return checks, {"used": True, **figures}


def declared_metrics(pkg: ModelPackage, spec: dict[str, Any] | None = None,
                     progress: Progress | None = None) -> dict[str, Any]:
    """Measure a package alone on the acceptance set: the ``metrics.acceptance``
    block a publisher writes into its manifest (``main.py models declare``)."""
    spec = spec or load_spec()
    runtime = _load(pkg, _backend(pkg), "")
    labels: list[int] = []
    probs: list[float] = []
    total = len(spec["studies"])
    for n, case in enumerate(cases(spec)):
        result = analyze_datasets(case.datasets, runtime)
        for side, label in case.labels.items():
            p = _probability(result, side)
            if p is not None:
                labels.append(label)
                probs.append(p)
        if progress:
            progress("acceptance set", n + 1, total)
    return {"set": spec["name"], "breasts": len(labels), "backend": runtime.backend,
            **measured_metrics(labels, probs)}
