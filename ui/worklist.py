"""The worklist: studies with priority, patient, age, date, views, status and
AI score; type to search, narrow by status, priority and date, Enter or
double-click to open, U (or the context menu) to mark a study urgent or
routine."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from engine.dates import shown_date
from engine.library.listing import shown_name
from engine.library.worklist import (
    DATE_CHOICES,
    STATUS_HELP,
    UNREAD,
    WorklistFilter,
    WorklistRow,
    last_days,
    status_choices,
)
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
PRIORITY_KEY = Qt.Key.Key_U  # marks the selected study urgent, or routine again
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


class _Filter(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.rule = WorklistFilter()
        self.setSortRole(SORT_ROLE)

    def filterAcceptsRow(self, row: int, parent: _Index) -> bool:
        model = self.sourceModel()
        r: WorklistRow = model.data(model.index(row, 0, parent), Qt.ItemDataRole.UserRole)
        return self.rule.accepts(r)


class WorklistWidget(QWidget):
    open_requested = Signal(str)  # study UID
    priority_requested = Signal(str, bool)  # study UID, whether it is to be urgent

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WorklistModel()
        self.proxy = _Filter()
        self.proxy.setSourceModel(self.model)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search patient, date, status ...  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.status = QComboBox()
        self._statuses = status_choices()
        for label, _shows, help_text in self._statuses:
            self.status.addItem(label)
            self.status.setItemData(self.status.count() - 1, help_text,
                                    Qt.ItemDataRole.ToolTipRole)
        self.dates = QComboBox()
        for label, _days in DATE_CHOICES:
            self.dates.addItem(label)
        self.urgent_only = QCheckBox("Urgent only")
        self.count = QLabel()
        self.table = QTableView()
        self._build_table()
        self.table.installEventFilter(self)  # U on the list (not in the search box)
        self.search.textChanged.connect(self._refilter)
        self.search.returnPressed.connect(self.open_current)
        self.status.currentIndexChanged.connect(self._refilter)
        self.dates.currentIndexChanged.connect(self._refilter)
        self.urgent_only.toggled.connect(self._refilter)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        for label, box in (("Status", self.status), ("Date", self.dates)):
            top.addWidget(QLabel(label))
            top.addWidget(box)
        top.addWidget(self.urgent_only)
        top.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table)

    def _build_table(self) -> None:
        t = self.table
        t.setModel(self.proxy)
        t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        t.verticalHeader().hide()
        header = t.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for narrow in ("Priority", "Age", "Prior"):
            header.setSectionResizeMode(COLUMNS.index(narrow),
                                        QHeaderView.ResizeMode.ResizeToContents)
        # Newest first until a header is clicked; a third click goes back to it.
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        header.setSortIndicatorClearable(True)
        t.setSortingEnabled(True)
        t.doubleClicked.connect(lambda _i: self.open_current())
        t.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        t.customContextMenuRequested.connect(self._show_context_menu)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.table and isinstance(event, QKeyEvent)
                and event.type() == QEvent.Type.KeyPress and event.key() == PRIORITY_KEY
                and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier):
            self.toggle_priority()
            return True
        return super().eventFilter(watched, event)

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

    def current_filter(self, today: dt.date | None = None) -> WorklistFilter:
        """What the search box, the status and date choices and "Urgent only" ask for."""
        days = DATE_CHOICES[max(self.dates.currentIndex(), 0)][1]
        since, until = last_days(days, today or dt.date.today()) if days else ("", "")
        return WorklistFilter(text=self.search.text(),
                              statuses=self._statuses[max(self.status.currentIndex(), 0)][1],
                              urgent_only=self.urgent_only.isChecked(), since=since, until=until)

    def _refilter(self) -> None:
        self.proxy.rule = self.current_filter()
        self.proxy.invalidate()
        self.count.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()} studies")
        if self.proxy.rowCount() and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)

    def visible_rows(self) -> list[WorklistRow]:
        return [self.proxy.data(self.proxy.index(i, 0), Qt.ItemDataRole.UserRole)
                for i in range(self.proxy.rowCount())]

    def visible_uids(self) -> list[str]:
        return [r.study_uid for r in self.visible_rows()]

    def current_row(self) -> WorklistRow | None:
        idx = self.table.currentIndex()
        if not idx.isValid():
            rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
            if not rows:
                return None
            idx = rows[0]
        return self.proxy.data(self.proxy.index(idx.row(), 0), Qt.ItemDataRole.UserRole)

    def current_uid(self) -> str | None:
        row = self.current_row()
        return row.study_uid if row else None

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
        """The next study shown that still needs reading (no read, or a draft):
        an urgent one first, else the first below `after` (from the top when
        None or not shown), from the top again when none follows."""
        rows = self.visible_rows()
        uids = [r.study_uid for r in rows]
        start = uids.index(after) + 1 if after in uids else 0
        unread = [r for r in rows[start:] + rows[:start]
                  if r.status in UNREAD and r.study_uid != after]
        first = next((r for r in unread if r.urgent), unread[0] if unread else None)
        return first.study_uid if first else None

    def toggle_priority(self) -> None:
        """Ask for the selected study to become urgent, or routine again."""
        row = self.current_row()
        if row is not None:
            self.priority_requested.emit(row.study_uid, not row.urgent)

    def context_menu(self) -> QMenu:
        """The selected study's menu: open it, mark it urgent or routine."""
        menu = QMenu(self)
        row = self.current_row()
        if row is None:
            return menu
        menu.addAction("Open", self.open_current)
        mark = menu.addAction("Mark routine" if row.urgent else "Mark urgent",
                              self.toggle_priority)
        mark.setShortcut(QKeySequence(PRIORITY_KEY))
        return menu

    def _show_context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if index.isValid():
            self.table.selectRow(index.row())
        menu = self.context_menu()
        if not menu.isEmpty():
            menu.exec(self.table.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def open_current(self) -> None:
        uid = self.current_uid()
        if uid:
            self.open_requested.emit(uid)
