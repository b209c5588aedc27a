"""The radiologist's read: BI-RADS (5th edition) assessment and density per
breast, the management recommendation, findings with their lexicon
descriptors, clock-face position, depth and size, an impression, and
whether the exam is a screening or a diagnostic one; save a draft, sign
(after the sign-off checks and a confirmation; it locks the read), add
addenda.  Under double reading it shows the reader's own read only, a line
saying where the study's reading stands and, once both reads are signed (the
arbitrating reader's case), the other reads, read-only."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.library.reads import (
    BIRADS,
    DENSITY,
    EXAM_PURPOSES,
    FINDING_TYPES,
    SCREENING,
    Finding,
    Read,
    StoredRead,
)
from engine.reading.birads import (
    ASSESSMENTS,
    DEPTHS,
    LEGACY_ASSESSMENTS,
    RECOMMENDATIONS,
    REGIONS,
    descriptor_problem,
)
from engine.reading.finding_text import describe_finding
from ui.reading_clock import ReadingClock

UNSET = "-"
CLOCKS = [f"{h}:{m}" for h in range(1, 13) for m in ("00", "30")] + list(REGIONS)


def _combo(items: dict) -> QComboBox:
    box = QComboBox()
    # Long category texts must not widen the panel past the images.
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    box.setMinimumContentsLength(8)
    box.addItem(UNSET, None)
    for key, text in items.items():
        box.addItem(text, key)
    return box


def _select(box: QComboBox, value: object) -> None:
    """Show ``value`` in ``box``; a legacy category (a plain 4 of an older read) is
    added to it for as long as that read is shown, never offered otherwise."""
    for i in reversed(range(box.count())):
        if box.itemData(i) in LEGACY_ASSESSMENTS and box.itemData(i) != value:
            box.removeItem(i)
    if value in LEGACY_ASSESSMENTS and box.findData(value) < 0:
        box.addItem(BIRADS[str(value)], value)
    box.setCurrentIndex(max(0, box.findData(value)))


def sign_summary(read: Read) -> str:
    """What the reader confirms before signing."""
    total = read.overall
    rec = read.recommendation
    return "\n".join([
        f"Overall assessment: BI-RADS {BIRADS[total] if total else UNSET}",
        f"Recommendation: {RECOMMENDATIONS.get(rec, rec) if rec else UNSET}",
        f"Findings: {len(read.findings)}",
        "Signing locks the read; later changes are addenda.",
    ])


def warn(parent: QWidget, title: str, text: str) -> None:
    QMessageBox.warning(parent, title, text)


def confirm(parent: QWidget, title: str, text: str) -> bool:
    answer = QMessageBox.question(parent, title, text)
    return answer == QMessageBox.StandardButton.Yes


class ReadingPanel(QGroupBox):
    save_requested = Signal(object)  # Read
    sign_requested = Signal()  # after the checks passed and the reader confirmed
    findings_changed = Signal()  # added, removed, or another read shown
    addendum_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Reading", parent)
        self.birads = {s: _combo(ASSESSMENTS) for s in ("R", "L")}
        self.density = {s: _combo(DENSITY) for s in ("R", "L")}
        self.recommendation = _combo(RECOMMENDATIONS)
        self.exam = QComboBox()
        for purpose in EXAM_PURPOSES:
            self.exam.addItem(purpose.capitalize(), purpose)
        self.exam.setToolTip("a screening exam, or a diagnostic one (left out of the "
                             "screening audit's rates)")
        # Double reading: where the study's reading stands, and the other reads
        # this reader may see (read-only).
        self.double = QLabel()
        self.double.setObjectName("doubleReading")
        self.double.setWordWrap(True)
        self.others = QLabel()
        self.others.setObjectName("otherReads")
        self.others.setWordWrap(True)
        self.others.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form = QFormLayout()
        form.addRow("Exam", self.exam)
        for side, name in (("R", "Right"), ("L", "Left")):
            form.addRow(f"{name} BI-RADS", self.birads[side])
            form.addRow(f"{name} density", self.density[side])
        form.addRow("Recommendation", self.recommendation)

        row, where, add, remove = self._finding_editor()

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
        self.sign.clicked.connect(self.request_sign)
        self.addendum.clicked.connect(
            lambda: self.addendum_requested.emit(self.addendum_text.toPlainText()))

        box = QVBoxLayout(self)
        box.addWidget(self.double)
        box.addWidget(self.others)
        box.addLayout(form)
        box.addWidget(QLabel("Findings"))
        box.addWidget(self.findings)
        box.addLayout(row)
        box.addLayout(where)
        box.addWidget(self.finding_words)
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
        self._point: dict[str, object] | None = None  # see place_point
        self.clock = ReadingClock()  # the reading time, paused while the window is inactive
        self.dirty = False  # edited since the read was shown or saved
        for combo in (*self.birads.values(), *self.density.values(), self.recommendation,
                      self.exam):
            combo.currentIndexChanged.connect(self._edited)
        self.impression.textChanged.connect(self._edited)
        self.show_read(None, [])

    def _finding_editor(self) -> tuple[QHBoxLayout, QHBoxLayout, QPushButton, QPushButton]:
        """The findings list and the fields that describe a new finding."""
        self.findings = QListWidget()
        self.finding_side = QComboBox()
        self.finding_side.addItems(["R", "L"])
        self.finding_kind = QComboBox()
        self.finding_kind.addItems(list(FINDING_TYPES))
        self.finding_clock = _combo({c: c for c in CLOCKS})
        self.finding_clock.setToolTip("clock-face position")
        self.finding_depth = _combo({d: d for d in DEPTHS})
        self.finding_depth.setToolTip("depth")
        self.finding_words = QLineEdit()
        self.finding_words.setPlaceholderText("descriptors, e.g. oval circumscribed")
        self.finding_size = QDoubleSpinBox()
        self.finding_size.setRange(0, 200)
        self.finding_size.setSuffix(" mm")
        self.finding_size.setToolTip("size")
        self.finding_nipple = QDoubleSpinBox()
        self.finding_nipple.setRange(0, 300)
        self.finding_nipple.setSuffix(" mm")
        self.finding_nipple.setToolTip("distance from the nipple")
        add = QPushButton("Add finding")
        add.clicked.connect(self._add_finding)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_finding)
        row = QHBoxLayout()
        for w in (self.finding_side, self.finding_kind, self.finding_size):
            row.addWidget(w)
        where = QHBoxLayout()
        for w in (self.finding_clock, self.finding_depth, self.finding_nipple):
            where.addWidget(w)
        return row, where, add, remove

    def _edited(self, *_args: object) -> None:
        self.dirty = True

    # -- the form <-> Read -------------------------------------------------------

    def _add_finding(self) -> None:
        kind = self.finding_kind.currentText()
        words = self.finding_words.text().lower().split()
        if problem := descriptor_problem(kind, words):
            self.state.setText(f"Finding not added: {problem}")
            return
        f = Finding(self.finding_side.currentText(), kind,
                    size_mm=self.finding_size.value() or None, descriptors=words,
                    clock=self.finding_clock.currentData() or "",
                    depth=self.finding_depth.currentData() or "",
                    nipple_mm=self.finding_nipple.value() or None, point=self._point)
        self._point = None
        self._findings.append(f)
        self._list_findings()
        self.finding_words.clear()
        self.dirty = True

    def place_point(self, sop_uid: str, x: float, y: float) -> None:
        """Where the next finding added lies: column ``x``, row ``y`` in stored
        pixels of the image ``sop_uid`` (the viewer calls this on a click)."""
        self._point = {"sop_uid": sop_uid, "x": float(x), "y": float(y)}
        self.state.setText(f"The next finding added is placed at ({x:.0f}, {y:.0f}).")

    def _remove_finding(self) -> None:
        row = self.findings.currentRow()
        if 0 <= row < len(self._findings):
            del self._findings[row]
            self._list_findings()
            self.dirty = True

    def _list_findings(self) -> None:
        self.findings.clear()
        for f in self._findings:
            self.findings.addItem(describe_finding(f))
        self.findings_changed.emit()

    def placed_findings(self) -> list[tuple[str, float, float, str]]:
        """The findings placed on an image: (image UID, column, row, label)."""
        out = []
        for i, f in enumerate(self._findings, start=1):
            p = f.point
            if p and isinstance(p.get("x"), int | float) and isinstance(p.get("y"), int | float):
                out.append((str(p.get("sop_uid", "")), float(p["x"]), float(p["y"]),  # type: ignore[arg-type]
                            f"{i} {f.side} {f.kind}"))
        return out

    def read(self) -> Read:
        return Read(
            birads={s: self.birads[s].currentData() for s in ("R", "L")},
            density={s: self.density[s].currentData() for s in ("R", "L")},
            findings=list(self._findings),
            impression=self.impression.toPlainText().strip(),
            recommendation=self.recommendation.currentData(),
            reading_time_s=self.clock.seconds(),
            exam=self.exam.currentData() or SCREENING,
        )

    def request_sign(self) -> None:
        """Sign after the BI-RADS sign-off checks (their problems shown, one a line,
        when they fail) and the reader's confirmation of what is signed."""
        read = self.read()
        problems = read.signoff_problems()
        if problems:
            self.state.setText("Cannot sign yet:\n" + "\n".join(problems))
            warn(self, "Cannot sign yet", "\n".join(problems))
            return
        if confirm(self, "Sign the read?", sign_summary(read)):
            self.sign_requested.emit()

    def show_read(self, main: StoredRead | None, addenda: list[StoredRead]) -> None:
        read = main.read if main and main.read else Read()
        for s in ("R", "L"):
            _select(self.birads[s], read.birads.get(s))
            self.density[s].setCurrentIndex(max(0, self.density[s].findData(read.density.get(s))))
        self.recommendation.setCurrentIndex(
            max(0, self.recommendation.findData(read.recommendation)))
        self.exam.setCurrentIndex(max(0, self.exam.findData(read.exam)))
        self._findings = list(read.findings)
        self._point = None
        self._list_findings()
        self.impression.setPlainText(read.impression)
        locked = bool(main and main.signed)
        self.clock.start(read.reading_time_s or 0.0, running=not locked)
        for w in self._editors():
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
        self.show_double(None, [])
        self.dirty = False

    def show_double(self, line: str | None, others: list[str],
                    refused: str | None = None) -> None:
        """Double reading: `line` says where the study stands (None: read once),
        `others` the other reads this reader may see; `refused`, why this
        reader cannot read the study now (the form is then read-only)."""
        self.double.setText(line or "")
        self.double.setVisible(bool(line))
        self.others.setText("\n".join(others))
        self.others.setVisible(bool(others))
        if refused:
            for w in self._editors():
                w.setEnabled(False)
            self.state.setText(f"Not yours to read: {refused}.")

    def _editors(self) -> list[QWidget]:
        return [*self.birads.values(), *self.density.values(), self.recommendation,
                self.findings, self.finding_side, self.finding_kind, self.finding_words,
                self.finding_size, self.finding_clock, self.finding_depth,
                self.finding_nipple, self.impression, self.exam, self.save, self.sign]

    @property
    def locked(self) -> bool:
        return not self.save.isEnabled()
