"""The reading report as PDF (Qt's own PDF writer): the read, the AI result
with its notice, and the hanging as shown as the key image."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter

from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reporting.report_text import report_lines

DPI = 150


def export_report(view, out: Path) -> None:
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
        for text, bold in report_lines(view.study, view.reading.read()):
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
