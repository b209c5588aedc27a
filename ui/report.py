"""The reading report as PDF (Qt's own PDF writer): the read, the AI result
with its notice, and the hanging as shown as the key image."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter

from engine.ai.results import NOT_FOR_CLINICAL_USE
from engine.library.reads import BIRADS, DENSITY

DPI = 150


def report_lines(view) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    """(text, bold) lines of the report body."""
    study = view.study
    printed = f"printed {datetime.now().astimezone():%Y-%m-%d %H:%M}"
    lines: list[tuple[str, bool]] = [
        ("MammoDesk reading report", True), (study.title, False), (printed, False),
        ("", False), ("Reading", True),
    ]
    main = study.read
    read = view.reading.read() if main is None else main.read
    for side, name in (("R", "Right"), ("L", "Left")):
        b = read.birads.get(side)
        d = read.density.get(side)
        lines.append((f"{name} breast: BI-RADS {BIRADS.get(b, '-') if b is not None else '-'}; "
                      f"density {DENSITY.get(d, '-') if d else '-'}", False))
    for f in read.findings:
        size = f", {f.size_mm:g} mm" if f.size_mm else ""
        lines.append((f"Finding: {f.side} {f.kind}{size} {f.location} {f.note}".rstrip(), False))
    lines.append((f"Impression: {read.impression or '-'}", False))
    if main is not None and main.signed:
        lines.append((f"Signed by {main.reader} at {main.signed_at}", True))
    else:
        lines.append(("DRAFT - not signed", True))
    for a in study.addenda:
        lines.append((f"Addendum ({a.reader}, {a.signed_at}): {a.text}", False))
    lines += [("", False), ("AI result - " + NOT_FOR_CLINICAL_USE, True)]
    r = study.result
    if r is None:
        lines.append(("no AI result for this study", False))
    else:
        lines.append((f"Exam score {r.exam_score if r.exam_score is not None else '-'}"
                      f"{'' if r.exam_score is None else ' / 100'}, category {r.category or '-'}"
                      f" of 10; density {r.density or '-'}", False))
        for b in r.breasts:
            p = "not assessed" if b.probability is None else f"{b.probability * 100:.0f}%"
            lines.append((f"{b.laterality} breast: {p}", False))
        lines.append((f"model {r.model_name} {r.model_version} on {r.device}", False))
    return lines


def export_report(view, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Write the report; the file appears complete or not at all."""
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    writer = QPdfWriter(str(tmp))
    writer.setResolution(DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait, QMarginsF(15, 15, 15, 15),
                                     QPageLayout.Unit.Millimeter))
    writer.setTitle("MammoDesk reading report")
    p = QPainter(writer)
    if not p.isActive():
        raise OSError(f"cannot write {out.name}")
    try:
        page = writer.pageLayout().paintRectPixels(DPI)
        w = page.width()
        y = 0.0
        for text, bold in report_lines(view):
            p.setFont(QFont("Sans", 11 if not bold else 12,
                            QFont.Weight.Bold if bold else QFont.Weight.Normal))
            rect = p.boundingRect(QRectF(0, y, w, 10_000), Qt.TextFlag.TextWordWrap, text or " ")
            p.drawText(rect, Qt.TextFlag.TextWordWrap, text)
            y += rect.height() + 4
        shot = view.hanging.grab()
        if not shot.isNull():
            room = page.height() - y - 20
            if room < page.height() * 0.35:
                writer.newPage()
                y, room = 0.0, page.height()
            size = shot.size().scaled(int(w), int(room), Qt.AspectRatioMode.KeepAspectRatio)
            p.drawPixmap(QRectF(0, y + 10, size.width(), size.height()), shot,
                         QRectF(shot.rect()))
            y += size.height() + 14
        p.setFont(QFont("Sans", 9))
        p.drawText(QRectF(0, page.height() - 30, w, 30), Qt.AlignmentFlag.AlignLeft,
                   "AI output: " + NOT_FOR_CLINICAL_USE)
    finally:
        p.end()
    os.replace(tmp, out)
