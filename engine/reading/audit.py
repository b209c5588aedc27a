"""The screening audit of a period: the site's figures (each study's final
read) and each reader's (their own reads), the AI's standalone figures beside
each, what was left out, and the double-reading figures, as one report.  The
definitions and the measures are in engine/reading/audit_measures.py; the
published benchmarks in engine/reading/audit_benchmarks.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.library.outcomes import AuditData
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.audit_benchmarks import BENCHMARKS, OperatingPoint, acceptable
from engine.reading.audit_measures import (
    KNOWN_CANCER,
    AiAudit,
    FollowedExam,
    Measures,
    ai_audit,
    follow_up,
    measures,
    reader_positive,
)
from engine.reading.double_reading import audit_figures


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
