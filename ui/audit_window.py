"""The screening audit in a window: for a period and a reader, each measure per
reader and for the site, the AI's standalone figures beside them, the BCSC
2017 benchmark and the acceptable range (Miglioretti et al. 2015), with bar
charts per reader; "Export PDF" writes the same audit as the command line's
``audit --pdf``.  The figures are engine/reading/audit.py's, the ranges and
verdicts engine/reading/audit_ranges.py's.

The library is read once, off the GUI thread (about 20 ms per 400 signed
reads, 100 ms per 3,000); a new period or reader recomputes the table from
what was read (under 30 ms for 3,000 exams), and redraws the plots (about
0.5 s whatever the size) once the dates stop changing.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import shiboken6
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from PySide6.QtCore import QDate, Qt, QTimer
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.library.outcomes import AuditData
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reading.audit import AuditReport
from engine.reading.audit_benchmarks import BCSC_2017
from engine.reading.audit_measures import Measures
from engine.reading.audit_ranges import (
    NONE,
    acceptable_range,
    cell,
    range_text,
    range_tip,
    value_text,
    verdict_cell,
)
from engine.reporting.audit_pdf import KINDS, ROWS, ai_text, scope_notes
from ui.context import AppContext

ALL_READERS = "All readers"
AI_NOTICE = f"AI output: {NOT_FOR_CLINICAL_USE}"
OUTSIDE_TEXT, OUTSIDE_BACK = QColor("#ffd0cc"), QColor("#7a1f1f")
PLOTTED = ("recall_rate", "cancer_detection_rate_per_1000", "ppv1", "ppv2", "sensitivity",
           "specificity")
VERDICTS = (("sensitivity_specificity", "Acceptable: sensitivity and specificity"),
            ("cdr_recall_ppv1", "Acceptable: cancer detection, recall and PPV1"))
PLOT_DELAY_MS = 300  # the plots wait until the period stops changing


def ask_save_path(parent: QWidget | None) -> Path | None:
    """Where to write the PDF (None: the person cancelled)."""
    out, _ = QFileDialog.getSaveFileName(parent, "Export the audit", "audit.pdf", "PDF (*.pdf)")
    return Path(out) if out else None


def load(root: Path, models: Path) -> tuple[AuditData, Any, Any, str | None]:
    """What the audit reads: the library's facts, the AI model and its operating point."""
    from engine.ai.service import current_package
    from engine.errors import MammoDeskError
    from engine.library.outcomes import audit_data
    from engine.library.store import Library
    from engine.reading.audit_benchmarks import operating_point

    model = point = why = None
    try:
        package = current_package(models)
        model = (package.name, package.version)
        point = operating_point(package.manifest.get("operating_points", {}))
    except MammoDeskError as exc:
        why = str(exc)
    with Library(root) as lib:
        return audit_data(lib, model), model, point, why


class AuditWindow(QWidget):
    """The screening audit of the library at ctx.paths.library."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.setWindowTitle("Screening audit")
        self.data: tuple[AuditData, Any, Any, str | None] | None = None
        self.report: AuditReport | None = None
        today = QDate.currentDate()
        self.start, self.end = QDateEdit(today.addYears(-1)), QDateEdit(today)
        for edit in (self.start, self.end):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.dateChanged.connect(lambda _d: self.recompute())
        self.reader = QComboBox()
        self.reader.addItem(ALL_READERS)
        self.reader.currentTextChanged.connect(lambda _t: self.recompute())
        self.refresh_button = QPushButton("Reload")
        self.refresh_button.clicked.connect(self.reload)
        self.export_button = QPushButton("Export PDF...")
        self.export_button.clicked.connect(self.export_pdf)
        self.export_button.setEnabled(False)
        bar = QHBoxLayout()
        for widget in (QLabel("Study dates from"), self.start, QLabel("to"), self.end,
                       QLabel("Reader"), self.reader):
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.refresh_button)
        bar.addWidget(self.export_button)
        self.notice = QLabel(AI_NOTICE)
        self.notice.setObjectName("notice")
        self.about = QLabel("reading the library...")
        self.about.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.figure = Figure(figsize=(9, 5), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.replot = QTimer(self, singleShot=True, interval=PLOT_DELAY_MS)
        self.replot.timeout.connect(lambda: self.report and self.plot(self.report))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.canvas)
        split.setSizes([420, 480])
        box = QVBoxLayout(self)
        for widget in (self.notice, self.about, self.error):
            box.addWidget(widget)
        box.addLayout(bar)
        box.addWidget(split, 1)
        self.resize(1280, 900)
        self.reload()

    # -- reading and computing ---------------------------------------------

    def reload(self) -> None:
        self.refresh_button.setEnabled(False)
        root, models = self.ctx.paths.library, self.ctx.paths.models
        self.ctx.ops.run(lambda: load(root, models), self._while_open(self._loaded),
                         self._while_open(self._failed), channel="audit")

    def _while_open(self, fn: Any) -> Any:
        """fn, called only while the window exists (it may close before the answer)."""
        return lambda value: fn(value) if shiboken6.isValid(self) else None

    def _loaded(self, data: tuple[AuditData, Any, Any, str | None]) -> None:
        self.data = data
        self.refresh_button.setEnabled(True)
        chosen = self.reader.currentText()
        names = sorted({e.reader for e in data[0].exams}, key=str.casefold)
        self.reader.blockSignals(True)
        self.reader.clear()
        self.reader.addItems([ALL_READERS, *names])
        self.reader.setCurrentText(chosen if chosen in names else ALL_READERS)
        self.reader.blockSignals(False)
        self.recompute()

    def _failed(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.error.setText(message)

    def period(self) -> tuple[dt.date, dt.date]:
        start, end = self.start.date().toPython(), self.end.date().toPython()
        assert isinstance(start, dt.date) and isinstance(end, dt.date)
        return start, end

    def recompute(self) -> None:
        from engine.reading.audit import audit

        if self.data is None:
            return
        start, end = self.period()
        if start > end:
            self.error.setText("The period's first date is after its last date.")
            self.report = None  # nothing to export; the old figures are of another period
            self.export_button.setEnabled(False)
            self.table.setRowCount(0)
            return
        self.error.clear()
        data, model, point, why = self.data
        reader = self.reader.currentText()
        self.report = audit(data, start=start, end=end, point=point, model=model, ai_reason=why,
                            reader=None if reader == ALL_READERS else reader)
        self.about.setText("  ".join([ai_text(self.report), *scope_notes(self.report),
                                      "A cancer: a malignant outcome within a year."]))
        self.export_button.setEnabled(True)
        self.show_table(self.report)
        self.replot.start()

    # -- the table and the plots -------------------------------------------

    def columns(self, report: AuditReport) -> list[tuple[str, Measures | None]]:
        groups = [("Site", report.site), *sorted(report.readers.items())]
        return [col for name, g in groups
                for col in ((name, g.measures), (f"{name}: AI (standalone)", g.ai.measures))]

    def show_table(self, report: AuditReport) -> None:
        columns = self.columns(report)
        heads = [name for name, _ in columns] + ["BCSC 2017", "Acceptable range"]
        rows = [(key, label) for key, label, _ in ROWS] + list(VERDICTS)
        self.table.clear()
        self.table.setColumnCount(len(heads))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(heads)
        self.table.setVerticalHeaderLabels([label for _, label in rows])
        for c in range(1, len(columns), 2):  # every second column is the AI's
            if (head := self.table.horizontalHeaderItem(c)) is not None:
                head.setToolTip(AI_NOTICE)
        for r, (key, _label) in enumerate(rows):
            for c, (_name, m) in enumerate(columns):
                self._put(r, c, *(cell(m, key) if key in KINDS else verdict_cell(m, key)))
            kind = KINDS.get(key, "")
            bounds = acceptable_range(key) if kind else None
            self._put(r, len(columns), value_text(BCSC_2017["values"].get(key), kind)
                      if kind else NONE)
            self._put(r, len(columns) + 1, NONE if bounds is None else range_text(bounds, kind),
                      tip=range_tip(key))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)

    def _put(self, row: int, col: int, text: str, outside: bool = False, tip: str = "") -> None:
        item = QTableWidgetItem(text)
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if outside:
            item.setForeground(QBrush(OUTSIDE_TEXT))
            item.setBackground(QBrush(OUTSIDE_BACK))
        if tip:
            item.setToolTip(tip)
        self.table.setItem(row, col, item)

    def plot(self, report: AuditReport) -> None:
        self.figure.clear()
        groups = [*sorted(report.readers.items()), ("Site", report.site)]
        axes = self.figure.subplots(2, 3)
        for ax, key in zip(axes.flat, PLOTTED, strict=True):
            label = next(text for k, text, _ in ROWS if k == key)
            scale = 100.0 if KINDS[key] == "f" else 1.0
            values = [getattr(g.measures, key) for _, g in groups]
            names = [name for name, _ in groups]
            heights = [0.0 if v is None else v * scale for v in values]
            colours = ["#5b8fd6"] * (len(groups) - 1) + ["#9a9a9a"]
            drawn = ax.bar(range(len(groups)), heights, color=colours, tick_label=names, zorder=2)
            for rect, value in zip(drawn, values, strict=True):
                if value is None:
                    ax.annotate(NONE, (rect.get_x() + rect.get_width() / 2, 0), ha="center",
                                va="bottom")
            bench = BCSC_2017["values"].get(key)
            top = max([*heights, (bench or 0) * scale]) * 1.25 or 1.0
            ceiling = 105.0 if scale != 1.0 else None  # a fraction stops at 100%
            bounds = acceptable_range(key)
            if bounds is not None:
                lo, hi = (None if b is None else b * scale for b in bounds)
                top = max(top, (lo or 0) * 1.25, (hi or 0) * 1.1)
                top = min(top, ceiling or top)
                ax.axhspan(lo or 0.0, top if hi is None else hi, color="#4caf50", alpha=0.2,
                           zorder=0, label="acceptable (Miglioretti 2015)")
            if bench is not None:
                ax.axhline(bench * scale, color="#d62728", linestyle="--", zorder=3,
                           label="BCSC 2017")
            ax.set_ylim(0, min(top, ceiling or top))
            ax.set_title(label + (" (%)" if scale != 1.0 else ""), fontsize=9)
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
            ax.tick_params(axis="y", labelsize=8)
        axes.flat[0].legend(fontsize=7, loc="upper right")
        self.canvas.draw_idle()

    # -- the PDF -------------------------------------------------------------

    def export_pdf(self) -> None:
        from engine.reporting.audit_pdf import write_audit_pdf

        report, out = self.report, ask_save_path(self)
        if report is None or out is None:
            return
        self.export_button.setEnabled(False)

        def done(_result: object) -> None:
            self.export_button.setEnabled(True)
            self.about.setText(f"audit written to {out}")

        def failed(message: str) -> None:
            self.export_button.setEnabled(True)
            self.error.setText(f"cannot write the audit: {message}")

        self.ctx.ops.run(lambda: write_audit_pdf(report, out), self._while_open(done),
                         self._while_open(failed))


def open_audit_window(ctx: AppContext, parent: QWidget | None = None) -> AuditWindow:
    """Show the audit window (a window of its own) and return it."""
    window = AuditWindow(ctx, parent)
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    window.show()
    return window
