"""The Models dialog: which AI model is live, the model updates waiting with
their acceptance reports, the history of switches, and the buttons the
command line's ``models`` commands also offer: Check now, Activate, Roll
back, Pin / Unpin.

Every decision is engine.ai.activation's: a refusal (ActivationError) is
shown as its one line, and nothing changes.  Reading the models folder and
the switches run on the operations pool, never on the GUI thread; the check
(network and two models: up to a minute) runs in a process of its own
(ui.model_update_runner), shared with the window's daily check: a check
already running when the dialog opens is shown as it goes on.  The AI of a
running window is asked to load the live model after each switch, and uses
it from the next study on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.model_update_notice import (
    CANDIDATE,
    INSTALLED,
    ModelsState,
    Version,
    load_state,
    one_line,
    shown_time,
)
from ui.model_update_runner import CheckEnd, model_check

FAILED_TEXT = QColor("#ff8a80")
VERSION_COLUMNS = ("Model", "Version", "Kind", "State")
CHECK_COLUMNS = ("Check", "Set", "Result", "Detail")
HISTORY_COLUMNS = ("When", "Event", "Model", "Version", "Previous", "By", "Note")
NEXT_START = "the AI uses it from the next study on"
CHECKING = "checking for a model update..."


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Yes or no from the person (No is the default)."""
    answer = QMessageBox.question(parent, title, text, defaultButton=QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _table(columns: tuple[str, ...]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    return table


def _fill(table: QTableWidget, rows: list[list[str]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(text))


class ModelsDialog(QDialog):
    """The live model, the updates waiting, the history, and what may be done."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.state: ModelsState | None = None
        self.changing = False  # an activation, roll back or pin runs
        self.setWindowTitle("AI models")
        self.live = QLabel("reading the models folder...")
        self.live.setObjectName("liveModel")
        self.source = QLabel()
        self.source.setWordWrap(True)
        self.versions = _table(VERSION_COLUMNS)
        self.versions.itemSelectionChanged.connect(self._selection_changed)
        self.report = QLabel()
        self.report.setWordWrap(True)
        self.checks = _table(CHECK_COLUMNS)
        self.history = _table(HISTORY_COLUMNS)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.checking = False  # a check (this dialog's or the daily one) runs
        self.checker = model_check(ctx)
        self.checker.started.connect(self._check_started)
        self.checker.progressed.connect(self._show_progress)
        self.checker.ended.connect(self._check_ended)
        self.message = QLabel()
        self.message.setObjectName("result")
        self.message.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)

        self.check_button = self._button("&Check now", self.check_now)
        self.activate_button = self._button("&Activate...", self.activate)
        self.rollback_button = self._button("&Roll back...", self.roll_back)
        self.pin_button = self._button("&Pin", self.toggle_pin)
        close = QPushButton("Close")
        close.setDefault(True)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.check_button, self.activate_button, self.rollback_button,
                       self.pin_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)

        box = QVBoxLayout(self)
        box.addWidget(self.live)
        box.addWidget(self.source)
        heading = QLabel("&Versions (select one to see its acceptance report)")
        heading.setBuddy(self.versions)
        box.addWidget(heading)
        box.addWidget(self.versions, 2)
        box.addWidget(self.report)
        box.addWidget(self.checks, 2)
        history_heading = QLabel("&History (newest first)")
        history_heading.setBuddy(self.history)
        box.addWidget(history_heading)
        box.addWidget(self.history, 2)
        for line in (self.progress, self.message, self.error):
            box.addWidget(line)
        box.addLayout(buttons)
        self.resize(1000, 760)
        self._update_buttons()
        if self.checker.running():
            self._check_started()
        self.reload()

    @property
    def busy(self) -> bool:
        return self.changing or self.checking

    def _button(self, text: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setAutoDefault(False)  # Enter in a table must not switch models
        button.clicked.connect(slot)
        return button

    def _while_open(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """fn, called only while the dialog exists (it may close before the answer)."""
        def call(value: Any) -> None:
            if shiboken6.isValid(self):
                fn(value)
        return call

    # -- reading ---------------------------------------------------------------

    def reload(self) -> None:
        root, settings = self.ctx.paths.models, self.ctx.settings
        self.ctx.ops.run(lambda: load_state(root, settings), self._while_open(self._show),
                         self._while_open(self.error.setText), channel="models-dialog")

    def _show(self, state: ModelsState) -> None:
        chosen = self.selected()
        key = (chosen.kind, chosen.name, chosen.version) if chosen else None
        self.state = state
        self.live.setText(state.live_text())
        self.source.setText(state.source_text())
        self.versions.blockSignals(True)
        _fill(self.versions, [[v.name, v.version, v.kind_text(), v.state_text(state.pin)]
                              for v in state.versions])
        rows = [(v.kind, v.name, v.version) for v in state.versions]
        self.versions.blockSignals(False)
        if rows:
            self.versions.selectRow(rows.index(key) if key in rows else 0)
        self._selection_changed()
        _fill(self.history, [_history_cells(e) for e in reversed(state.history)])
        if state.history_problem:
            self.error.setText(state.history_problem)

    def selected(self) -> Version | None:
        rows = self.versions.selectionModel().selectedRows()
        if self.state is None or not rows or rows[0].row() >= len(self.state.versions):
            return None
        return self.state.versions[rows[0].row()]

    def _selection_changed(self) -> None:
        v = self.selected()
        self.report.setText(v.report_text() if v else "")
        report = v.report if v else None
        checks = report.get("checks") if report else None
        _fill(self.checks, [_check_cells(c) for c in checks if isinstance(c, dict)]
              if isinstance(checks, list) else [])
        for r in range(self.checks.rowCount()):
            result = self.checks.item(r, 2)
            if result is not None and result.text() == "failed":
                result.setForeground(QBrush(FAILED_TEXT))
        self._update_buttons()

    def _update_buttons(self) -> None:
        state, v = self.state, self.selected()
        idle = not self.busy and state is not None
        self.check_button.setEnabled(not self.busy)
        self.activate_button.setEnabled(idle and v is not None and v.can_activate())
        self.rollback_button.setEnabled(idle and state is not None and state.live is not None
                                        and state.live.kind == INSTALLED)
        self.pin_button.setText("&Unpin" if state and state.pin else "&Pin")
        self.pin_button.setEnabled(idle and state is not None
                                   and (state.pin is not None or state.live is not None))

    # -- doing -----------------------------------------------------------------

    def _run(self, work: Callable[[], Any], done: Callable[[Any], str]) -> None:
        """Run a change off the GUI thread; show its line, or its refusal, then reload."""
        self.changing = True
        self.message.clear()
        self.error.clear()
        self._update_buttons()

        def finished(value: Any) -> None:
            self.changing = False
            self.message.setText(done(value))
            self.ctx.refresh_model()
            self.reload()

        def failed(message: str) -> None:
            self.changing = False
            self.error.setText(message)
            self.reload()

        self.ctx.ops.run(work, self._while_open(finished), self._while_open(failed))

    def check_now(self) -> None:
        """Ask the repository for an update and run acceptance on it (up to a
        minute, in a process of its own)."""
        if not self.checker.start():  # one runs already: it is shown
            self._check_started()

    def _check_started(self) -> None:
        if not shiboken6.isValid(self) or self.checking:
            return
        self.checking = True
        self.message.clear()
        self.error.clear()
        self.progress.setRange(0, 0)  # busy, until the check says how far it is
        self.progress.setFormat(CHECKING)
        self.progress.show()
        if self.checker.last_progress is not None:
            self._show_progress(*self.checker.last_progress)
        self._update_buttons()

    def _show_progress(self, stage: str, done: int, total: int) -> None:
        if not shiboken6.isValid(self) or not self.checking:
            return
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
            self.progress.setFormat(f"{one_line(stage)}: {done} of {total}")
        else:
            self.progress.setRange(0, 0)
            self.progress.setFormat(f"{one_line(stage)}...")

    def _check_ended(self, end: CheckEnd) -> None:
        if not shiboken6.isValid(self):
            return
        if self.checking:
            self.checking = False
            self.progress.hide()
            if end.outcome is not None:
                self.message.setText(end.line())
            else:
                self.error.setText(end.error)
        self.reload()  # the AI was asked for the live model already

    def activate(self) -> None:
        v = self.selected()
        if v is None or not v.can_activate():
            return
        what = "the accepted update" if v.kind == CANDIDATE else "the installed version"
        if not confirm(self, "Activate a model",
                       f"Make {what} {v.name} {v.version} the live AI model?\n\n"
                       f"{NEXT_START[0].upper()}{NEXT_START[1:]}."):
            return
        root = self.ctx.paths.models

        def work() -> Any:
            from engine.ai.activation import activate_version

            return activate_version(root, v.version)

        self._run(work, lambda pkg: f"{pkg.describe()} is now the live model; {NEXT_START}.")

    def roll_back(self) -> None:
        state = self.state
        if state is None or state.live is None:
            return
        if not confirm(self, "Roll back the model",
                       f"Go back from {state.live.name} {state.live.version} to the model "
                       "that was live before it?"):
            return
        root, builtin = self.ctx.paths.models, state.builtin

        def work() -> Any:
            from engine.ai.activation import rollback

            return rollback(root, builtin)

        self._run(work, lambda pkg: f"rolled back: {pkg.describe()} is live again; {NEXT_START}.")

    def toggle_pin(self) -> None:
        state = self.state
        if state is None:
            return
        root, builtin = self.ctx.paths.models, state.builtin
        if state.pin is not None:
            from engine.ai.activation import unpin

            self._run(lambda: unpin(root),
                      lambda was: "unpinned: updates may be activated again" if was
                      else "nothing was pinned")
            return
        if state.live is None:
            return
        version = state.live.version

        def work() -> Any:
            from engine.ai.activation import pin

            return pin(root, version, builtin)

        self._run(work, lambda pkg: f"pinned to {pkg.describe()}: nothing else is activated "
                                    "until it is unpinned")


def _check_cells(check: dict[str, Any]) -> list[str]:
    passed = check.get("passed")
    result = "passed" if passed is True else "failed" if passed is False else "not run"
    return [one_line(check.get("name")), one_line(check.get("set")), result,
            one_line(check.get("detail"))]


HISTORY_EVENTS = {"rolled_back": "rolled back", "accepted": "accepted by acceptance",
                  "refused": "refused by acceptance"}


def _history_cells(entry: dict[str, Any]) -> list[str]:
    event = str(entry.get("event", ""))
    return [shown_time(str(entry.get("at", ""))), HISTORY_EVENTS.get(event, event),
            one_line(entry.get("name")), one_line(entry.get("version")),
            one_line(entry.get("previous")), one_line(entry.get("actor")),
            one_line(entry.get("reason"))]


def open_models_dialog(ctx: AppContext, parent: QWidget | None = None,
                       on_close: Callable[[], None] | None = None) -> ModelsDialog:
    """Show the Models dialog (window-modal, not blocking) and return it;
    ``on_close`` is called when it closes."""
    dialog = ModelsDialog(ctx, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if on_close is not None:
        dialog.finished.connect(lambda _r: on_close())
    dialog.open()
    return dialog

