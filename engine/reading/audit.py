"""The screening audit (ACR BI-RADS Atlas, 5th edition, follow-up and outcome
monitoring; the MQSA medical outcomes audit): pure functions over the facts
engine/library/outcomes.py reads, per reader and for the site.

Definitions (the screening audit counts screening exams only):

- Exams: the signed reads of screening exams.  A read marked diagnostic
  (engine.library.reads: ``Read.exam``) is left out of every figure, recall
  rate, cancer detection rate and PPV1 included, and counted under
  ``diagnostic_exams``.
- Readers and site.  Each reader's figures count their own signed reads,
  whatever their role under double reading (first, second, arbitration).
  The site's count each study once, by its final decision: its single read,
  or under double reading the final read (agreed or arbitrated); a
  double-read study not yet decided is in no site figure.
- ``double_reading``: among the studies of the period with a first and a
  second read signed (``exams``): ``disagreements`` on recall (one read
  positive, the other not), ``arbitrated`` (arbitration signed),
  ``awaiting_arbitration``, and ``arbitration_rate`` = disagreements / exams.

- Period: exams whose study date lies in [start, end], both included.
  Exams without a study date, and exams assessed BI-RADS 6 (a known cancer
  is not screened), are left out and counted under ``excluded``.
- Positive screen (a recall): overall assessment in POSITIVE_AT_SCREENING
  (0, 3, 4, 4A-C, 5).  Biopsy recommended: overall in BIOPSY_RECOMMENDED.
- Follow-up year: from the study date to the same day one calendar year
  later (28 February for 29 February), both included.
- An outcome belongs to one exam: among the exams of its own study and of
  the same patient (same patient ID) whose follow-up year holds its date,
  its own study's exam, else the most recent one.  Outcomes that belong to
  no exam are counted under ``excluded``.
- Cancer: a malignant outcome in either breast within the follow-up year.
  True positive (a screen-detected cancer, ``cancers``): positive and
  cancer; false negative: negative and cancer.
- Non-cancer exam: no malignant outcome within the follow-up year, once that
  year is over (as of the audit's date).  Until then the exam counts for
  neither specificity nor its false positives (``follow_up_pending``).
  True negative: negative and non-cancer; false positive: positive and
  non-cancer.
- recall_rate = recalls / exams; cancer_detection_rate_per_1000 = 1000 x
  cancers / exams; ppv1 = cancers / recalls; ppv2 = cancers among exams with
  a biopsy recommended / those exams; ppv3 = cancers among exams with a
  biopsy recommended and done (any outcome within the follow-up year) /
  those exams; sensitivity = TP / (TP + FN); specificity = TN / (TN + FP).
- A cancer is invasive when one of its malignant outcomes has an invasive
  size or a histology that says "invasive"; else in situ when one says
  "DCIS" or "in situ"; else of unknown kind.  Minimal: in situ, or invasive
  with its largest invasive size <= 10 mm (unknown without a size).
  Node-negative: among invasive cancers with a known node status, none
  positive.  Both are fractions of the screen-detected cancers where known.
- median_reading_time_s: over the exams whose read recorded a time.
- Rates are fractions (per 1000 where named so); None where the
  denominator is 0.
- The AI, standalone on the same exams: positive when its exam score (100 x
  the higher breast's probability) reaches its operating point; exams
  without an AI score are counted (``exams_without_result``) and left out of
  its figures.  It recommends no biopsy and records no reading time: its
  ppv2, ppv3 and median_reading_time_s are None.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.library.outcomes import AuditData, AuditExam, Outcome
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.birads import BIOPSY_RECOMMENDED, POSITIVE_AT_SCREENING
from engine.reading.double_reading import audit_figures

KNOWN_CANCER = "6"
MINIMAL_MM = 10.0
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


def follow_up_end(study_date: dt.date) -> dt.date:
    """The last day of the follow-up year."""
    try:
        return study_date.replace(year=study_date.year + 1)
    except ValueError:  # 29 February
        return study_date.replace(year=study_date.year + 1, day=28)


@dataclass(frozen=True)
class FollowedExam:
    """An exam with what its follow-up year found."""

    exam: AuditExam
    outcomes: tuple[Outcome, ...]  # those that belong to it
    complete: bool  # the follow-up year is over

    @property
    def date(self) -> dt.date:
        assert self.exam.study_date is not None
        return self.exam.study_date

    @property
    def cancer(self) -> bool:
        return any(o.result == "malignant" for o in self.outcomes)

    @property
    def biopsied(self) -> bool:
        return bool(self.outcomes)

    def cancer_kind(self) -> str | None:
        """"invasive", "in situ", or None (not a cancer, or unknown)."""
        malignant = [o for o in self.outcomes if o.result == "malignant"]
        words = [o.histology.lower() for o in malignant]
        if any(o.size_mm is not None for o in malignant) or any("invasive" in w for w in words):
            return "invasive"
        if any("dcis" in w or "in situ" in w for w in words):
            return "in situ"
        return None

    def minimal(self) -> bool | None:
        kind = self.cancer_kind()
        if kind == "in situ":
            return True
        sizes = [o.size_mm for o in self.outcomes
                 if o.result == "malignant" and o.size_mm is not None]
        return max(sizes) <= MINIMAL_MM if kind == "invasive" and sizes else None

    def node_negative(self) -> bool | None:
        nodes = {o.nodes for o in self.outcomes if o.result == "malignant"}
        if self.cancer_kind() != "invasive" or not nodes - {"unknown"}:
            return None
        return "positive" not in nodes


def follow_up(data: AuditData, as_of: dt.date,
              reads: list[AuditExam] | None = None) -> tuple[list[FollowedExam], int]:
    """Every auditable read (of `reads`, else of `data`) with the outcomes of
    its study; and how many outcomes belong to no study."""
    auditable = [e for e in (data.exams if reads is None else reads)
                 if e.study_date is not None and e.overall != KNOWN_CANCER]
    by_study: dict[str, AuditExam] = {}
    for e in auditable:
        by_study.setdefault(e.study_uid, e)
    by_patient: dict[str, list[AuditExam]] = {}
    for e in by_study.values():
        if e.patient_id:
            by_patient.setdefault(e.patient_id, []).append(e)
    found: dict[str, list[Outcome]] = {uid: [] for uid in by_study}
    unattributed = 0
    for item in data.outcomes:
        o = item.outcome
        own = by_study.get(o.study_uid)
        # (not its own study, study date, study UID): the best candidate sorts first.
        candidates = sorted(
            (e is not own, -e.study_date.toordinal(), e.study_uid)
            for e in [*([own] if own else []), *by_patient.get(item.patient_id, [])]
            if e.study_date is not None and e.study_date <= o.date <= follow_up_end(e.study_date))
        if candidates:
            found[candidates[0][2]].append(o)
        else:
            unattributed += 1
    exams = [FollowedExam(e, tuple(found[e.study_uid]), as_of > follow_up_end(e.study_date))
             for e in auditable if e.study_date is not None]
    return exams, unattributed


def _rate(numerator: int, denominator: int, scale: float = 1.0) -> float | None:
    return scale * numerator / denominator if denominator else None


def _fraction(values: Iterable[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return _rate(sum(known), len(known))


@dataclass(frozen=True)
class Measures:
    exams: int
    recalls: int
    recall_rate: float | None
    cancers: int  # screen-detected: true positives
    false_negatives: int
    cancer_detection_rate_per_1000: float | None
    ppv1: float | None
    biopsy_recommended: int | None
    biopsies: int | None  # of those, with an outcome within the follow-up year
    ppv2: float | None
    ppv3: float | None
    true_negatives: int
    false_positives: int
    follow_up_pending: int  # negative or positive, no cancer yet, year not over
    sensitivity: float | None
    specificity: float | None
    minimal_cancer_fraction: float | None
    node_negative_fraction: float | None
    median_reading_time_s: float | None


def measures(exams: list[FollowedExam], positive: Callable[[FollowedExam], bool], *,
             reader: bool = True) -> Measures:
    """The audit's figures for exams called positive by `positive`; `reader`
    False leaves out what only a reader gives (biopsy recommendations, times)."""
    pos = [e for e in exams if positive(e)]
    tp = [e for e in pos if e.cancer]
    fn = sum(e.cancer for e in exams if not positive(e))
    fp = sum(e.complete and not e.cancer for e in pos)
    tn = sum(e.complete and not e.cancer for e in exams if not positive(e))
    pending = sum(not e.complete and not e.cancer for e in exams)
    recommended = [e for e in exams if e.exam.overall in BIOPSY_RECOMMENDED] if reader else []
    done = [e for e in recommended if e.biopsied]
    times = [e.exam.reading_time_s for e in exams if e.exam.reading_time_s is not None]
    return Measures(
        exams=len(exams), recalls=len(pos), recall_rate=_rate(len(pos), len(exams)),
        cancers=len(tp), false_negatives=fn,
        cancer_detection_rate_per_1000=_rate(len(tp), len(exams), 1000.0),
        ppv1=_rate(len(tp), len(pos)),
        biopsy_recommended=len(recommended) if reader else None,
        biopsies=len(done) if reader else None,
        ppv2=_rate(sum(e.cancer for e in recommended), len(recommended)) if reader else None,
        ppv3=_rate(sum(e.cancer for e in done), len(done)) if reader else None,
        true_negatives=tn, false_positives=fp, follow_up_pending=pending,
        sensitivity=_rate(len(tp), len(tp) + fn), specificity=_rate(tn, tn + fp),
        minimal_cancer_fraction=_fraction(e.minimal() for e in tp),
        node_negative_fraction=_fraction(e.node_negative() for e in tp),
        median_reading_time_s=statistics.median(times) if reader and times else None,
    )


def reader_positive(e: FollowedExam) -> bool:
    return e.exam.overall in POSITIVE_AT_SCREENING


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


@dataclass(frozen=True)
class AiAudit:
    measures: Measures | None  # None without a model or an operating point
    exams_without_result: int
    point: OperatingPoint | None
    reason: str | None = None  # why there are no figures

    def as_dict(self) -> dict[str, Any]:
        figures = asdict(self.measures) if self.measures else {}
        point = None if self.point is None else {
            "name": self.point.name, "probability": self.point.probability,
            "exam_score": round(self.point.exam_score, 3)}
        return {**figures, "exams_without_result": self.exams_without_result,
                "operating_point": point, "reason": self.reason,
                "notice": NOT_FOR_CLINICAL_USE}


def ai_audit(exams: list[FollowedExam], scores: dict[str, float | None],
             point: OperatingPoint | None, reason: str | None = None) -> AiAudit:
    scored = [e for e in exams if scores.get(e.exam.study_uid) is not None]
    missing = len(exams) - len(scored)
    if point is None:
        return AiAudit(None, missing, None, reason or "the AI model names no operating point")

    def positive(e: FollowedExam) -> bool:
        return float(scores[e.exam.study_uid] or 0.0) >= point.exam_score

    return AiAudit(measures(scored, positive, reader=False), missing, point)


@dataclass(frozen=True)
class GroupAudit:
    measures: Measures
    ai: AiAudit

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.measures), "ai": self.ai.as_dict(),
                "miglioretti_2015_acceptable": acceptable(self.measures)}


@dataclass(frozen=True)
class AuditReport:
    start: dt.date | None
    end: dt.date | None
    as_of: dt.date
    site: GroupAudit
    readers: dict[str, GroupAudit]
    excluded: dict[str, int]
    model: tuple[str, str] | None = None
    benchmarks: dict[str, Any] = field(default_factory=lambda: BENCHMARKS)
    diagnostic_exams: int = 0  # in the period, left out of every figure
    double_reading: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": {"from": self.start and self.start.isoformat(),
                       "to": self.end and self.end.isoformat()},
            "as_of": self.as_of.isoformat(),
            "site": self.site.as_dict(),
            "readers": {name: g.as_dict() for name, g in sorted(self.readers.items())},
            "excluded": self.excluded,
            "ai_model": None if self.model is None else {
                "name": self.model[0], "version": self.model[1],
                "notice": NOT_FOR_CLINICAL_USE},
            "benchmarks": self.benchmarks,
            "exams_counted": "screening",
            "diagnostic_exams": self.diagnostic_exams,
            "double_reading": self.double_reading,
        }


def same_reader(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def audit(data: AuditData, *, start: dt.date | None = None, end: dt.date | None = None,
          reader: str | None = None, as_of: dt.date | None = None,
          point: OperatingPoint | None = None, model: tuple[str, str] | None = None,
          ai_reason: str | None = None) -> AuditReport:
    """The audit of the screening exams of [start, end]: the site's figures
    (each study's final read), and each reader's (only `reader`'s when given;
    their own reads); the AI's at `point` beside each.  Each exam carries its
    read's role, exam purpose and finality (engine.library.outcomes.audit_data)."""
    as_of = as_of or dt.date.today()

    def in_period(date: dt.date | None) -> bool:
        return date is not None and (start is None or date >= start) and (
            end is None or date <= end)

    screening = [e for e in data.exams if e.exam != "diagnostic"]
    diagnostic = sum(in_period(e.study_date) for e in data.exams
                     if e.exam == "diagnostic" and e.final)
    exams, unattributed = follow_up(data, as_of, screening)
    exams = [e for e in exams if in_period(e.date)]
    final = [e for e in screening if e.final]
    excluded = {"undated": sum(e.study_date is None for e in final),
                "known_cancer": sum(e.overall == KNOWN_CANCER and in_period(e.study_date)
                                    for e in final),
                "outcomes_unattributed": unattributed}

    def group(items: list[FollowedExam]) -> GroupAudit:
        return GroupAudit(measures(items, reader_positive),
                          ai_audit(items, data.ai_scores, point, ai_reason))

    names = sorted({e.exam.reader for e in exams})
    if reader is not None:
        names = [n for n in names if same_reader(n, reader)] or [reader]
    readers = {n: group([e for e in exams if same_reader(e.exam.reader, n)]) for n in names}
    site = group([e for e in exams if e.exam.final])
    return AuditReport(start, end, as_of, site, readers, excluded, model,
                       diagnostic_exams=diagnostic,
                       double_reading=audit_figures(
                           (e.exam.study_uid, e.exam.role, reader_positive(e))
                           for e in exams))
