"""The worklist: studies with patient, date, views, status and AI score;
type to search, Enter or double-click to open."""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.dates import shown_date
from engine.library.listing import shown_name
from engine.library.worklist import STATUS_HELP, STATUSES, UNREAD, WorklistRow
from engine.notices import NOT_FOR_CLINICAL_USE, with_notice

# The score column says once, in its header, that the model is not for clinical use.
SCORE_HEADER = with_notice("AI score")
COLUMNS = ("Patient ID", "Patient", "Date", "Accession", "Description", "Views", "Prior",
           "Status", "Reader", "Reading time", SCORE_HEADER)
SCORE_COLUMN = COLUMNS.index(SCORE_HEADER)
STATUS_COLUMN = COLUMNS.index("Status")
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
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == STATUS_COLUMN:
            return f"{r.status}: {STATUS_HELP.get(r.status, '')}".rstrip(": ")
        if role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        values = (
            r.patient_id,
            shown_name(r.patient_name),
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
        return values[index.column()]


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return ""
    whole = round(seconds)
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


class _Filter(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.text = ""
        self.status = ""

    def filterAcceptsRow(self, row: int, parent: _Index) -> bool:
        model = self.sourceModel()
        r: WorklistRow = model.data(model.index(row, 0, parent), Qt.ItemDataRole.UserRole)
        return r.matches(self.text) and (not self.status or r.status == self.status)


class WorklistWidget(QWidget):
    open_requested = Signal(str)  # study UID

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WorklistModel()
        self.proxy = _Filter()
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search patient, date, status ...  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.status = QComboBox()
        self.status.addItem("all", "")
        for s in STATUSES:
            self.status.addItem(s, s)
            self.status.setItemData(self.status.count() - 1, STATUS_HELP[s],
                                    Qt.ItemDataRole.ToolTipRole)
        self.count = QLabel()
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda _i: self.open_current())
        self.search.textChanged.connect(self._refilter)
        self.search.returnPressed.connect(self.open_current)
        self.status.currentIndexChanged.connect(self._refilter)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(QLabel("Status"))
        top.addWidget(self.status)
        top.addWidget(self.count)
        box = QVBoxLayout(self)
        box.addLayout(top)
        box.addWidget(self.table)

    def keyPressEvent(self, e) -> None:
        if e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.open_current()
            e.accept()
            return
        super().keyPressEvent(e)

    def set_rows(self, rows: list[WorklistRow]) -> None:
        selected = self.current_uid()
        self.model.set_rows(rows)
        self._refilter()
        if selected:
            self.select(selected)
        elif self.proxy.rowCount():
            self.table.selectRow(0)

    def _refilter(self) -> None:
        self.proxy.text = self.search.text()
        self.proxy.status = self.status.currentData() or ""
        self.proxy.invalidate()
        self.count.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()}")
        if self.proxy.rowCount() and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)

    def visible_uids(self) -> list[str]:
        return [
            self.proxy.data(self.proxy.index(i, 0), Qt.ItemDataRole.UserRole).study_uid
            for i in range(self.proxy.rowCount())
        ]

    def current_uid(self) -> str | None:
        idx = self.table.currentIndex()
        if not idx.isValid():
            rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
            if not rows:
                return None
            idx = rows[0]
        return self.proxy.data(self.proxy.index(idx.row(), 0), Qt.ItemDataRole.UserRole).study_uid

    def select(self, uid: str) -> None:
        uids = self.visible_uids()
        if uid in uids:
            self.table.selectRow(uids.index(uid))

    def neighbour(self, uid: str, step: int) -> str | None:
        """The study `step` rows from `uid` in the visible order."""
        uids = self.visible_uids()
        if uid not in uids:
            return None
        i = uids.index(uid) + step
        return uids[i] if 0 <= i < len(uids) else None

    def next_unread(self, after: str | None) -> str | None:
        """The first study below `after` (from the top when None or not shown)
        in the visible order that still needs reading: no read, or a draft;
        from the top again when none follows."""
        rows = [self.proxy.data(self.proxy.index(i, 0), Qt.ItemDataRole.UserRole)
                for i in range(self.proxy.rowCount())]
        uids = [r.study_uid for r in rows]
        start = uids.index(after) + 1 if after in uids else 0
        for r in rows[start:] + rows[:start]:
            if r.status in UNREAD and r.study_uid != after:
                return r.study_uid
        return None

    def open_current(self) -> None:
        uid = self.current_uid()
        if uid:
            self.open_requested.emit(uid)
