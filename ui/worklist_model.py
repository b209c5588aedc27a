"""The worklist's table model: one row per study, what each column shows
and sorts by, and the filter that narrows it (engine.library.worklist's
WorklistFilter)."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

from engine.dates import shown_date
from engine.library.listing import shown_name
from engine.library.worklist import STATUS_HELP, WorklistFilter, WorklistRow
from engine.notices import NOT_FOR_CLINICAL_USE, with_notice

# The score column says once, in its header, that the model is not for clinical use.
SCORE_HEADER = with_notice("AI score")
COLUMNS = ("Priority", "Patient ID", "Patient", "Age", "Date", "Accession", "Description",
           "Views", "Prior", "Status", "Reader", "Reading time", SCORE_HEADER)
SCORE_COLUMN = COLUMNS.index(SCORE_HEADER)
STATUS_COLUMN = COLUMNS.index("Status")
PRIORITY_COLUMN = COLUMNS.index("Priority")
URGENT_FLAG = "URGENT"  # a word, not only a colour
URGENT_COLOUR = QColor(220, 40, 40)
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # what a column sorts by
_Index = QModelIndex | QPersistentModelIndex  # what Qt passes to a model


class WorklistModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[WorklistRow] = []

    def set_rows(self, rows: list[WorklistRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole and section == SCORE_COLUMN:
            return f"AI exam score, 0-100. {NOT_FOR_CLINICAL_USE}"
        return None

    def data(self, index: _Index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self.rows[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return r
        if role == SORT_ROLE:
            return _sort_key(r, index.column())
        if index.column() == PRIORITY_COLUMN and r.urgent:
            if role == Qt.ItemDataRole.FontRole:
                bold = QFont()
                bold.setBold(True)
                return bold
            if role == Qt.ItemDataRole.ForegroundRole:
                return QBrush(URGENT_COLOUR)
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == STATUS_COLUMN:
            return f"{r.status}: {STATUS_HELP.get(r.status, '')}".rstrip(": ")
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == PRIORITY_COLUMN:
            return "urgent: read first (U marks it routine)" if r.urgent else \
                "routine (U marks it urgent)"
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        return _shown(r)[index.column()]


def _shown(r: WorklistRow) -> tuple[str, ...]:
    """The row's cells as shown, in COLUMNS order."""
    return (
        URGENT_FLAG if r.urgent else "",
        r.patient_id,
        shown_name(r.patient_name),
        "" if r.age is None else str(r.age),
        shown_date(r.study_date),
        r.accession,
        r.description,
        " ".join(r.views) or "-",
        "yes" if r.has_prior else "",
        r.status,
        r.reader,
        _minutes(r.reading_time_s),
        "" if r.exam_score is None else f"{r.exam_score:.0f}",
    )


def _sort_key(r: WorklistRow, column: int) -> object:
    """What a column sorts by: urgent before routine, ages and times as
    numbers (unknown last), dates as dates, the rest as shown."""
    name = COLUMNS[column]
    if name == "Priority":
        return 0 if r.urgent else 1
    if name == "Age":
        return 1000 if r.age is None else r.age
    if name == "Date":
        return r.study_date or ""
    if name == "Reading time":
        return -1.0 if r.reading_time_s is None else r.reading_time_s
    if name == SCORE_HEADER:
        return -1.0 if r.exam_score is None else r.exam_score
    return _shown(r)[column].lower()


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


class WorklistFilterModel(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.rule = WorklistFilter()
        self.setSortRole(SORT_ROLE)

    def filterAcceptsRow(self, row: int, parent: _Index) -> bool:
        model = self.sourceModel()
        r: WorklistRow = model.data(model.index(row, 0, parent), Qt.ItemDataRole.UserRole)
        return self.rule.accepts(r)
