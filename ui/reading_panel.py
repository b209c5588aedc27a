"""The radiologist's read: BI-RADS and density per breast, findings, an
impression; save a draft, sign (which locks it), add addenda."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.library.reads import BIRADS, DENSITY, FINDING_TYPES, Finding, Read, StoredRead

UNSET = "-"


def _combo(items: dict) -> QComboBox:
    box = QComboBox()
    # Long category texts must not widen the panel past the images.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    box.addItem(UNSET, None)
    for key, text in items.items():
        box.addItem(text, key)
    return box


class ReadingPanel(QGroupBox):
    save_requested = Signal(object)  # Read
    sign_requested = Signal()
    addendum_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reading", parent)
        self.birads = {s: _combo(BIRADS) for s in ("R", "L")}
        self.density = {s: _combo(DENSITY) for s in ("R", "L")}
        form = QFormLayout()
        for side, name in (("R", "Right"), ("L", "Left")):
            form.addRow(f"{name} BI-RADS", self.birads[side])
            form.addRow(f"{name} density", self.density[side])

        self.findings = QListWidget()
        self.finding_side = QComboBox()
        self.finding_side.addItems(["R", "L"])
        self.finding_kind = QComboBox()
        self.finding_kind.addItems(list(FINDING_TYPES))
        self.finding_where = QLineEdit()
        self.finding_where.setPlaceholderText("location, e.g. 10 o'clock, middle third")
        self.finding_size = QDoubleSpinBox()
        self.finding_size.setRange(0, 200)
        self.finding_size.setSuffix(" mm")
        add = QPushButton("Add finding")
        add.clicked.connect(self._add_finding)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_finding)
        row = QHBoxLayout()
        for w in (self.finding_side, self.finding_kind, self.finding_size):
            row.addWidget(w)

        self.impression = QPlainTextEdit()
        self.impression.setPlaceholderText("Impression")
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.save = QPushButton("Save draft (Ctrl+S)")
        self.sign = QPushButton("Sign (Ctrl+Enter)")
        self.addendum_text = QPlainTextEdit()
        self.addendum_text.setPlaceholderText("Addendum to the signed read")
        self.addendum = QPushButton("Add addendum")
        self.history = QLabel()
        self.history.setWordWrap(True)
        self.save.clicked.connect(lambda: self.save_requested.emit(self.read()))
        self.sign.clicked.connect(self.sign_requested.emit)
        self.addendum.clicked.connect(
            lambda: self.addendum_requested.emit(self.addendum_text.toPlainText()))

        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addWidget(QLabel("Findings"))
        box.addWidget(self.findings)
        box.addLayout(row)
        box.addWidget(self.finding_where)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        box.addLayout(buttons)
        box.addWidget(self.impression)
        box.addWidget(self.save)
        box.addWidget(self.sign)
        box.addWidget(self.state)
        box.addWidget(self.history)
        box.addWidget(self.addendum_text)
        box.addWidget(self.addendum)
        self._findings: list[Finding] = []
        self.dirty = False  # edited since the read was shown or saved
        for combo in (*self.birads.values(), *self.density.values()):
            combo.currentIndexChanged.connect(self._edited)
        self.impression.textChanged.connect(self._edited)
        self.show_read(None, [])

    def _edited(self, *_args: object) -> None:
        self.dirty = True

    # -- the form <-> Read -------------------------------------------------------

    def _add_finding(self) -> None:
        f = Finding(self.finding_side.currentText(), self.finding_kind.currentText(),
                    self.finding_where.text().strip(),
                    self.finding_size.value() or None)
        self._findings.append(f)
        self._list_findings()
        self.finding_where.clear()
        self.dirty = True

    def _remove_finding(self) -> None:
        row = self.findings.currentRow()
        if 0 <= row < len(self._findings):
            del self._findings[row]
            self._list_findings()
            self.dirty = True

    def _list_findings(self) -> None:
        self.findings.clear()
        for f in self._findings:
            size = f" {f.size_mm:g} mm" if f.size_mm else ""
            self.findings.addItem(f"{f.side} {f.kind}{size} {f.location}".strip())

    def read(self) -> Read:
        return Read(
            birads={s: self.birads[s].currentData() for s in ("R", "L")},
            density={s: self.density[s].currentData() for s in ("R", "L")},
            findings=list(self._findings),
            impression=self.impression.toPlainText().strip(),
        )

    def show_read(self, main: StoredRead | None, addenda: list[StoredRead]) -> None:
        read = main.read if main and main.read else Read()
        for s in ("R", "L"):
            self.birads[s].setCurrentIndex(max(0, self.birads[s].findData(read.birads.get(s))))
            self.density[s].setCurrentIndex(max(0, self.density[s].findData(read.density.get(s))))
        self._findings = list(read.findings)
        self._list_findings()
        self.impression.setPlainText(read.impression)
        locked = bool(main and main.signed)
        editors = [*self.birads.values(), *self.density.values(), self.findings,
                   self.finding_side, self.finding_kind, self.finding_where, self.finding_size,
                   self.impression, self.save, self.sign]
        for w in editors:
            w.setEnabled(not locked)
        self.addendum.setEnabled(locked)
        self.addendum_text.setEnabled(locked)
        if main is None:
            self.state.setText("Not read yet.")
        elif locked:
            self.state.setText(f"Signed by {main.reader} at {main.signed_at} - locked.")
        else:
            self.state.setText(f"Draft by {main.reader}, not signed.")
        self.history.setText("\n".join(
            f"Addendum by {a.reader} at {a.signed_at}: {a.text}" for a in addenda))
        self.addendum_text.clear()
        self.dirty = False

    @property
    def locked(self) -> bool:
        return not self.save.isEnabled()
