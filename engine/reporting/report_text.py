"""The reading report's text, headless: the read, its addenda and the AI
result with its notice.  The window lays it out as PDF (ui/report.py)."""

from __future__ import annotations

from datetime import datetime

from engine.library.reads import BIRADS, DENSITY, Read
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.birads import RECOMMENDATIONS
from engine.reading.finding_text import describe_finding
from engine.reading.open_study import OpenedStudy


def report_lines(study: OpenedStudy, draft: Read | None = None,
                 printed: datetime | None = None) -> list[tuple[str, bool]]:
    """(text, bold) lines of the report body.  `draft` is the read as being
    edited, used while the study has no saved read."""
    printed = printed or datetime.now().astimezone()
    lines: list[tuple[str, bool]] = [
        ("MammoDesk reading report", True),
        *((line, False) for line in study.patient.lines()),
        (f"printed {printed:%Y-%m-%d %H:%M}", False), ("", False), ("Reading", True),
    ]
    main = study.read
    read = (main.read if main is not None else draft) or Read()
    lines += _read_lines(read)
    if main is not None and main.role != "single":
        lines.append((f"Double reading: the {main.role} read", False))
    if main is not None and main.signed:
        lines.append((f"Signed by {main.reader} at {main.signed_at}", True))
    else:
        lines.append(("DRAFT - not signed", True))
    for a in study.addenda:
        lines.append((f"Addendum ({a.reader}, {a.signed_at}): {a.text}", False))
    lines += [("", False), ("AI result - " + NOT_FOR_CLINICAL_USE, True)]
    return lines + _ai_lines(study)


def _read_lines(read: Read) -> list[tuple[str, bool]]:
    """Whether the exam was a screening or a diagnostic one; per breast its
    BI-RADS (5th edition) assessment and composition, the
    overall assessment (the more abnormal breast's), the recommendation, the
    findings and the impression."""
    lines = [(f"{read.exam.capitalize()} exam", False)]
    for side, name in (("R", "Right"), ("L", "Left")):
        b = read.birads.get(side)
        d = read.density.get(side)
        lines.append((f"{name} breast: BI-RADS {BIRADS.get(b, '-') if b is not None else '-'}; "
                      f"density {DENSITY.get(d, '-') if d else '-'}", False))
    total = read.overall
    lines.append((f"Overall assessment: BI-RADS {BIRADS[total] if total else '-'}", False))
    rec = read.recommendation
    lines.append((f"Recommendation: {RECOMMENDATIONS.get(rec, rec) if rec else '-'}", False))
    for f in read.findings:
        lines.append((f"Finding: {describe_finding(f)}", False))
    lines.append((f"Impression: {read.impression or '-'}", False))
    return lines


def _ai_lines(study: OpenedStudy) -> list[tuple[str, bool]]:
    r = study.result
    if r is None:
        return [("no AI result for this study", False)]
    lines = [(f"Exam score {r.exam_score if r.exam_score is not None else '-'}"
              f"{'' if r.exam_score is None else ' / 100'}, category {r.category or '-'}"
              f" of 10; density {r.density or '-'}", False)]
    for b in r.breasts:
        p = "not assessed" if b.probability is None else f"{b.probability * 100:.0f}%"
        lines.append((f"{b.laterality} breast: {p}", False))
    lines.append((f"model {r.model_name} {r.model_version} on {r.device}", False))
    return lines
