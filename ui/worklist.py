"""The worklist: studies with priority, patient, age, date, views, status and
AI score; type to search, narrow by status, priority and date, Enter or
double-click to open, U (or the context menu) to mark a study urgent or
routine."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
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

from engine.library.worklist import (
    DATE_CHOICES,
    UNREAD,
    WorklistFilter,
    WorklistRow,
    last_days,
    status_choices,
)
from ui.worklist_model import COLUMNS, WorklistFilterModel, WorklistModel

PRIORITY_KEY = Qt.Key.Key_U  # marks the selected study urgent, or routine again


class WorklistWidget(QWidget):
    open_requested = Signal(str)  # study UID
    priority_requested = Signal(str, bool)  # study UID, whether it is to be urgent

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = WorklistModel()
        self.proxy = WorklistFilterModel()
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

    def next_unread(self, after: str | None, reader: str = "") -> str | None:
        """The next study shown that still needs reading (no read, a draft, or
        under double reading a second read or arbitration due) and that
        `reader` has not signed: an urgent one first, else the first below
        `after` (from the top when None or not shown), from the top again
        when none follows."""
        rows = self.visible_rows()
        uids = [r.study_uid for r in rows]
        start = uids.index(after) + 1 if after in uids else 0
        unread = [r for r in rows[start:] + rows[:start]
                  if r.status in UNREAD and r.study_uid != after
                  and not (reader and r.signed_by(reader))]
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
