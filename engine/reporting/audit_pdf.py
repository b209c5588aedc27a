"""The screening audit as a table, printed (the command line) and as a PDF.

Page 1: the site's figures, the AI's standalone figures on the same exams,
the BCSC benchmarks and whether the site meets the acceptable ranges of
Miglioretti et al. (2015).  Page 2: one line per reader.  Every page's footer
carries the notice that the AI is not for clinical use.  No patient data is
printed.  Only matplotlib's object-oriented API (Figure + PdfPages), as
engine/ai/report_pdf.py; the file is written atomically.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.atomic import atomic_output
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.audit import AuditReport
from engine.reading.audit_benchmarks import BCSC_2017, MIGLIORETTI_2015, acceptable
from engine.reading.audit_measures import Measures

if TYPE_CHECKING:
    from matplotlib.figure import Figure

A4 = (8.27, 11.69)  # inches, portrait
NOTICE_COLOUR = "#b00020"
MAX_READER_LINES = 40

# (key, label, kind): kind "n" a count, "f" a fraction, "r" per 1000, "s" seconds.
ROWS = (
    ("exams", "Exams", "n"),
    ("recalls", "Recalls (positive screens)", "n"),
    ("recall_rate", "Recall rate", "f"),
    ("cancers", "Screen-detected cancers", "n"),
    ("false_negatives", "False negatives", "n"),
    ("cancer_detection_rate_per_1000", "Cancer detection / 1000", "r"),
    ("ppv1", "PPV1", "f"),
    ("ppv2", "PPV2", "f"),
    ("ppv3", "PPV3", "f"),
    ("sensitivity", "Sensitivity", "f"),
    ("specificity", "Specificity", "f"),
    ("follow_up_pending", "Follow-up year not over", "n"),
    ("minimal_cancer_fraction", "Minimal cancers", "f"),
    ("node_negative_fraction", "Node-negative invasive", "f"),
    ("median_reading_time_s", "Median reading time (s)", "s"),
)
READER_COLUMNS = ("exams", "recall_rate", "cancers", "cancer_detection_rate_per_1000", "ppv1",
                  "ppv2", "ppv3", "sensitivity", "specificity", "median_reading_time_s")
SHORT = {"exams": "Exams", "recall_rate": "Recall", "cancers": "Cancers",
         "cancer_detection_rate_per_1000": "CDR/1000", "ppv1": "PPV1", "ppv2": "PPV2",
         "ppv3": "PPV3", "sensitivity": "Sens.", "specificity": "Spec.",
         "median_reading_time_s": "Time (s)"}
KINDS = {key: kind for key, _, kind in ROWS}


def shown(value: object, kind: str) -> str:
    """One figure as the table shows it ("-" where there is none)."""
    if value is None:
        return "-"
    if kind == "f":
        return f"{float(value):.1%}"  # type: ignore[arg-type]
    if kind in ("r", "s"):
        return f"{float(value):.1f}"  # type: ignore[arg-type]
    return str(value)


def figure(m: Measures | None, key: str) -> str:
    return shown(None if m is None else getattr(m, key), KINDS[key])


def period_text(report: AuditReport) -> str:
    start = report.start.isoformat() if report.start else "the first exam"
    end = report.end.isoformat() if report.end else "the last exam"
    return f"study dates {start} to {end}; outcomes as of {report.as_of.isoformat()}"


def ai_text(report: AuditReport) -> str:
    ai = report.site.ai
    if ai.point is None:
        return f"AI: no figures ({ai.reason})."
    name = " ".join(report.model) if report.model else "the model"
    return (f"AI: {name}, standalone, positive at exam score >= {ai.point.exam_score:.1f} "
            f"(operating point {ai.point.name}); {ai.exams_without_result} exam(s) without "
            f"an AI score left out of its figures.")


def _verdict(value: bool | None) -> str:
    return {True: "met", False: "not met", None: "-"}[value]


def _table(fig: Figure, rect: tuple[float, float, float, float], header: list[str],
           rows: list[list[str]], size: float) -> None:
    ax = fig.add_axes(rect)
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=header, loc="upper center", cellLoc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(size)
    table.scale(1.0, 1.35)
    for (row, _col), cell in table.get_celld().items():
        cell.set_edgecolor("#bbbbbb")
        if row == 0:
            cell.set_text_props(weight="bold")


def scope_notes(report: AuditReport) -> list[str]:
    """Which exams the figures count: screening only, and under double
    reading each study's final decision for the site."""
    notes = ["Screening exams only (recall: BI-RADS 0, 3, 4, 5 at screening)"
             + (f"; {report.diagnostic_exams} diagnostic exam(s) left out."
                if report.diagnostic_exams else ".")]
    double = report.double_reading
    if double.get("exams"):
        rate = double["arbitration_rate"]
        notes.append(f"Double reading: {double['exams']} exam(s) read twice; "
                     f"{double['disagreements']} disagreement(s) on recall "
                     f"(arbitration rate {'-' if rate is None else f'{100 * rate:.1f}%'}), "
                     f"{double['arbitrated']} arbitrated.  The site's figures use each "
                     "study's final decision; each reader's, their own reads.")
    return notes


def _site_page(report: AuditReport) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    fig.text(0.06, 0.955, "MammoDesk screening audit", fontsize=18, weight="bold", va="top")
    fig.text(0.06, 0.915, period_text(report), fontsize=9.5, va="top")
    fig.text(0.06, 0.885, f"AI figures: {NOT_FOR_CLINICAL_USE}", fontsize=10, weight="bold",
             color="white", va="top",
             bbox={"facecolor": NOTICE_COLOUR, "edgecolor": NOTICE_COLOUR, "pad": 4})
    site, ai = report.site.measures, report.site.ai.measures
    rows = [[label, figure(site, key), figure(ai, key),
             shown(BCSC_2017["values"].get(key), kind)] for key, label, kind in ROWS]
    _table(fig, (0.06, 0.5, 0.88, 0.34), ["", "Site", "AI (standalone)", "BCSC 2017"], rows, 9)
    verdicts = acceptable(site)
    notes = [
        ai_text(report),
        "Acceptable performance (Miglioretti et al. 2015, combined criteria): sensitivity and "
        f"specificity {_verdict(verdicts['sensitivity_specificity'])}; cancer detection, recall "
        f"rate and PPV1 {_verdict(verdicts['cdr_recall_ppv1'])}.",
        "Benchmarks: " + BCSC_2017["source"] + ".",
        "Criteria: " + MIGLIORETTI_2015["source"] + ".",
        "A cancer is a malignant outcome within a year of the exam.  Specificity counts an exam "
        "without cancer once its year of follow-up is over.",
    ]
    notes += scope_notes(report)
    excluded = [f"{k.replace('_', ' ')}: {v}" for k, v in report.excluded.items() if v]
    if excluded:
        notes.append("Left out: " + ", ".join(excluded) + ".")
    lines = [part for note in notes for part in textwrap.wrap(note, 105)]
    for i, line in enumerate(lines):
        fig.text(0.06, 0.5 - i * 0.02, line, fontsize=8.5, va="top")
    return fig


def _readers_page(report: AuditReport) -> Figure:
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4)
    fig.text(0.06, 0.955, "Per reader", fontsize=16, weight="bold", va="top")
    fig.text(0.06, 0.925, period_text(report), fontsize=9, va="top")
    names = sorted(report.readers)
    rows = [[name[:22]] + [figure(report.readers[name].measures, k) for k in READER_COLUMNS]
            for name in names[:MAX_READER_LINES]]
    rows.append(["BCSC 2017"] + [shown(BCSC_2017["values"].get(k), KINDS[k])
                                 for k in READER_COLUMNS])
    height = min(0.85, 0.02 * (len(rows) + 1))
    _table(fig, (0.04, 0.9 - height, 0.92, height), ["Reader"] + [SHORT[k] for k in
                                                                  READER_COLUMNS], rows, 7.5)
    if len(names) > MAX_READER_LINES:
        fig.text(0.06, 0.06, f"... and {len(names) - MAX_READER_LINES} more readers (see the "
                 "audit's JSON output).", fontsize=8.5)
    return fig


def write_audit_pdf(report: AuditReport, out_path: Path) -> None:
    """Write the audit as a two-page PDF to ``out_path`` atomically."""
    from matplotlib.backends.backend_pdf import PdfPages

    pages = [_site_page(report), _readers_page(report)]
    for number, fig in enumerate(pages, start=1):
        fig.text(0.5, 0.015, f"AI figures: {NOT_FOR_CLINICAL_USE}    Page {number} of "
                 f"{len(pages)}", ha="center", fontsize=8, color=NOTICE_COLOUR)
    meta: dict[str, Any] = {"Title": "MammoDesk screening audit", "Subject": NOT_FOR_CLINICAL_USE,
                            "Creator": "MammoDesk"}
    with atomic_output(out_path, "audit") as fh, PdfPages(fh, metadata=meta) as pdf:
        for fig in pages:
            pdf.savefig(fig)
