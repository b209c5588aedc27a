"""The outcomes form: what pathology found after one study, per breast, entered
by hand (the command line's ``outcome add``; the screening audit reads them).

Everything is checked and written by engine/library/outcomes.py; a refusal
is shown as its one line inside the form, and nothing is saved.  The form
stays open after a save, so a biopsy and the surgery that followed can be
entered one after the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.dates import shown_date
from engine.library.outcomes import NODES, PROCEDURES, RESULTS, Outcome, dicom_date
from ui.context import AppContext

SIDE_NAMES = {"R": "Right", "L": "Left"}
NOT_RECORDED = "not recorded"
# Common histology per result; any other wording may be typed.  The audit
# reads "invasive" and "DCIS"/"in situ" in a malignant result's histology.
HISTOLOGY = {
    "malignant": ["invasive ductal carcinoma (NST)", "invasive lobular carcinoma",
                  "invasive mixed ductal and lobular carcinoma", "invasive tubular carcinoma",
                  "invasive mucinous carcinoma", "DCIS (ductal carcinoma in situ)"],
    "high-risk": ["atypical ductal hyperplasia", "atypical lobular hyperplasia",
                  "lobular carcinoma in situ (LCIS)", "flat epithelial atypia",
                  "papilloma", "radial scar"],
    "benign": ["fibroadenoma", "fibrocystic change", "benign breast tissue", "cyst",
               "fat necrosis"],
}
COLUMNS = ("Date", "Side", "Result", "Procedure", "Histology", "Invasive size", "Nodes")


def outcome_cells(o: Outcome) -> list[str]:
    """One recorded outcome as the form's list shows it."""
    return [o.date.isoformat(), SIDE_NAMES[o.side], o.result, o.procedure or "—",
            o.histology or "—", "—" if o.size_mm is None else f"{o.size_mm:g} mm", o.nodes]


def load_study(root: Path, uid: str) -> tuple[str, dt.date | None, list[Outcome]]:
    """(one line naming the study, its date, its outcomes), from the library."""
    from engine.library.listing import list_studies
    from engine.library.outcomes import OutcomeError, list_outcomes
    from engine.library.store import Library

    with Library(root) as lib:
        found = list_studies(lib, uid)
        if not found:
            raise OutcomeError("no such study in the library")
        s = found[0]
        title = " · ".join(part for part in (
            f"Patient ID {s.patient_id}" if s.patient_id else "",
            f"study of {shown_date(s.study_date)}" if s.study_date else "study without a date",
            f"accession {s.accession_number}" if s.accession_number else "") if part)
        return title, dicom_date(s.study_date), list_outcomes(lib, uid)


def save_outcome(root: Path, outcome: Outcome) -> tuple[list[Outcome], list[Outcome]]:
    """Record it; (what was written, the study's outcomes now)."""
    from engine.library.outcomes import add_outcomes, list_outcomes
    from engine.library.store import Library

    with Library(root) as lib:
        written = add_outcomes(lib, [outcome])
        return written, list_outcomes(lib, outcome.study_uid)


class OutcomeForm(QDialog):
    """Record pathology outcomes of one study's breasts."""

    saved = Signal(str)  # the study UID, after an outcome was written

    def __init__(self, ctx: AppContext, study_uid: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx, self.study_uid = ctx, study_uid
        self.study_date: dt.date | None = None
        self.setWindowTitle("Pathology outcomes")
        self.title = QLabel("loading the study...")
        self.title.setObjectName("studyTitle")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Histology"), QHeaderView.ResizeMode.Stretch)
        self.empty = QLabel("No outcome recorded for this study yet.")

        self.side_box = QComboBox()
        for code, name in SIDE_NAMES.items():
            self.side_box.addItem(name, code)
        self.result_box = QComboBox()
        self.result_box.addItems(list(RESULTS))
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.date_edit.setMaximumDate(QDate.currentDate())  # the engine refuses future dates
        self.procedure_box = QComboBox()
        self.procedure_box.addItems([*PROCEDURES, NOT_RECORDED])
        self.histology_box = QComboBox()
        self.histology_box.setEditable(True)
        self.histology_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.size_box = QDoubleSpinBox()
        self.size_box.setRange(0.0, 999.9)
        self.size_box.setDecimals(1)
        self.size_box.setSuffix(" mm")
        self.size_box.setSpecialValueText("not known")  # 0: no invasive size given
        self.nodes_box = QComboBox()
        self.nodes_box.addItems(list(NODES))
        self.nodes_box.setCurrentText("unknown")
        form = QFormLayout()
        for label, field in (("Breast", self.side_box), ("Result", self.result_box),
                             ("Date of the procedure", self.date_edit),
                             ("Procedure", self.procedure_box), ("Histology", self.histology_box),
                             ("Invasive size", self.size_box), ("Axillary nodes", self.nodes_box)):
            form.addRow(label, field)

        self.note = QLabel()
        self.note.setObjectName("notice")
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("error")
        self.error.setWordWrap(True)
        self.add_button = QPushButton("Add outcome")
        self.add_button.setDefault(True)
        self.add_button.setEnabled(False)  # until the study is loaded
        self.add_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.add_button)
        buttons.addWidget(close)

        box = QVBoxLayout(self)
        box.addWidget(self.title)
        box.addWidget(QLabel("Recorded outcomes"))
        box.addWidget(self.table)
        box.addWidget(self.empty)
        box.addLayout(form)
        box.addWidget(self.note)
        box.addWidget(self.error)
        box.addLayout(buttons)
        self.resize(760, 560)

        self.result_box.currentTextChanged.connect(self._result_changed)
        self.date_edit.dateChanged.connect(lambda _d: self._date_note())
        self._result_changed(self.result_box.currentText())
        root = ctx.paths.library
        ctx.ops.run(lambda: load_study(root, study_uid), self._while_open(self._loaded),
                    self._while_open(self._load_failed))

    def _while_open(self, fn: Callable[[Any], None]) -> Callable[[Any], None]:
        """fn, called only while the form still exists (it may be closed before
        the library answers)."""
        def call(value: Any) -> None:
            if shiboken6.isValid(self):
                fn(value)
        return call

    # -- what the fields allow ---------------------------------------------

    def _result_changed(self, result: str) -> None:
        typed = self.histology_box.currentText()
        self.histology_box.clear()
        self.histology_box.addItems(["", *HISTOLOGY.get(result, [])])
        self.histology_box.setCurrentText(typed if typed not in _all_histology() else "")
        malignant = result == "malignant"
        self.size_box.setEnabled(malignant)
        self.nodes_box.setEnabled(malignant)
        if not malignant:
            self.size_box.setValue(0.0)
            self.nodes_box.setCurrentText("unknown")

    def _date_note(self) -> None:
        from engine.reading.audit_measures import follow_up_end

        when = self.date_edit.date().toPython()
        late = (self.study_date is not None and isinstance(when, dt.date)
                and when > follow_up_end(self.study_date))
        self.note.setText(
            "This date is more than a year after the study: the audit will not count it for "
            "this exam, only for a later screening exam of the same patient within its year."
            if late else "")

    # -- loading and saving --------------------------------------------------

    def _loaded(self, loaded: tuple[str, dt.date | None, list[Outcome]]) -> None:
        title, self.study_date, outcomes = loaded
        self.title.setText(title)
        self.show_outcomes(outcomes)
        self._date_note()
        self.add_button.setEnabled(True)

    def _load_failed(self, message: str) -> None:
        self.title.setText("This study cannot be opened.")
        self.error.setText(message)

    def show_outcomes(self, outcomes: list[Outcome]) -> None:
        self.table.setRowCount(len(outcomes))
        for row, o in enumerate(outcomes):
            for col, text in enumerate(outcome_cells(o)):
                self.table.setItem(row, col, QTableWidgetItem(text))
        self.empty.setVisible(not outcomes)

    def outcome(self) -> Outcome:
        """The outcome the fields describe; OutcomeError when they cannot make one."""
        from engine.library.outcomes import make_outcome

        when = self.date_edit.date().toString("yyyy-MM-dd")
        malignant = self.result_box.currentText() == "malignant"
        size = self.size_box.value() if malignant and self.size_box.value() > 0 else None
        procedure = self.procedure_box.currentText()
        return make_outcome(self.study_uid, str(self.side_box.currentData()),
                            self.result_box.currentText(), when, self.histology_box.currentText(),
                            size, self.nodes_box.currentText() if malignant else None,
                            None if procedure == NOT_RECORDED else procedure)

    def save(self) -> None:
        from engine.errors import MammoDeskError

        self.error.clear()
        try:
            outcome = self.outcome()
        except MammoDeskError as exc:
            self.error.setText(str(exc))
            return
        self.add_button.setEnabled(False)
        root = self.ctx.paths.library
        self.ctx.ops.run(lambda: save_outcome(root, outcome), self._while_open(self._saved),
                         self._while_open(self._save_failed))

    def _saved(self, result: tuple[list[Outcome], list[Outcome]]) -> None:
        written, outcomes = result
        self.add_button.setEnabled(True)
        self.show_outcomes(outcomes)
        if not written:
            self.error.setText("This outcome is already recorded; nothing was added.")
            return
        self.saved.emit(self.study_uid)

    def _save_failed(self, message: str) -> None:
        self.add_button.setEnabled(True)
        self.error.setText(message)


def _all_histology() -> set[str]:
    return {name for names in HISTOLOGY.values() for name in names}


def open_outcome_form(ctx: AppContext, study_uid: str,
                      parent: QWidget | None = None) -> OutcomeForm:
    """Show the outcomes form of a library study (modal to its window) and return it."""
    form = OutcomeForm(ctx, study_uid, parent)
    form.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    form.open()
    return form
