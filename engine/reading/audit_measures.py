"""The screening audit's measures (ACR BI-RADS Atlas, 5th edition, follow-up
and outcome monitoring; the MQSA medical outcomes audit): each exam with what
its follow-up year found, and the figures over a set of exams, the reader's
and the AI's standalone.  engine/reading/audit.py groups them per reader and
for the site.

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
from dataclasses import asdict, dataclass
from typing import Any

from engine.library.outcomes import AuditData, AuditExam, Outcome
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.audit_benchmarks import OperatingPoint
from engine.reading.birads import BIOPSY_RECOMMENDED, POSITIVE_AT_SCREENING

KNOWN_CANCER = "6"
MINIMAL_MM = 10.0


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
