"""The AI panel: exam score and category, per-breast probability, density,
overlay switches, the model and the device it ran on.  It says plainly
when there is no model, while the model loads, and that the model is not
for clinical use.

As a second look (the reading.cad_second_look setting, on by default) the
result stays hidden until the reader says the first look is done; showing it
earlier is possible, and the reading view records that it was."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from engine.ai.results import ExamResult
from engine.notices import NOT_FOR_CLINICAL_USE

SIDE = {"R": "Right breast", "L": "Left breast"}


class AiPanel(QGroupBox):
    overlays_changed = Signal(bool, bool, float)  # marks, heatmap, opacity
    revealed = Signal(bool)  # the hidden result was shown: True when before the first look

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("AI", parent)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.score = QLabel("-")
        self.score.setObjectName("aiScore")
        self.category = QLabel("-")
        self.right = QLabel("-")
        self.left = QLabel("-")
        self.density = QLabel("-")
        self.model = QLabel("-")
        self.model.setWordWrap(True)
        self.notice = QLabel(NOT_FOR_CLINICAL_USE)
        self.notice.setObjectName("notice")
        self.notice.setWordWrap(True)
        self.marks = QCheckBox("Marks (A)")
        self.marks.setChecked(True)
        self.heat = QCheckBox("Heatmap (H)")
        # A study outside the model's training shows no score and no marks;
        # the marks found anyway can be asked for, labelled as such.
        self.withheld = QCheckBox("Show marks anyway\n(outside the training)")
        self.withheld.setVisible(False)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        for w in (self.marks, self.heat, self.withheld):
            w.toggled.connect(self._emit)
        self.opacity.valueChanged.connect(self._emit)
        self.first_look = QPushButton("First look done (Shift+A)")
        self.first_look.clicked.connect(lambda: self.reveal(early=False))
        self.first_look.setVisible(False)
        self.hidden = False  # a result is held back until the first look is done

        for label in (self.score, self.category, self.right, self.left, self.density):
            label.setWordWrap(True)  # a breast's reason can be long: wrapped, never cut off
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.addRow("Exam score", self.score)
        form.addRow("Category", self.category)
        form.addRow(SIDE["R"], self.right)
        form.addRow(SIDE["L"], self.left)
        form.addRow("Density", self.density)
        box = QVBoxLayout(self)
        box.addWidget(self.status)
        box.addWidget(self.first_look)
        box.addLayout(form)
        box.addWidget(self.marks)
        box.addWidget(self.heat)
        box.addWidget(self.withheld)
        box.addWidget(QLabel("Heatmap opacity ([ and ])"))
        box.addWidget(self.opacity)
        box.addWidget(self.model)
        box.addWidget(self.notice)
        self.result: ExamResult | None = None
        self.show_state("no study open")

    def _emit(self) -> None:
        self.overlays_changed.emit(self.marks.isChecked(), self.heat.isChecked(),
                                   self.opacity.value() / 100.0)

    def show_state(self, text: str) -> None:
        """A state without numbers: loading, no model, analysing, failed."""
        self.result = None
        self.status.setText(text)
        self.withheld.setChecked(False)
        self.withheld.setVisible(False)
        for w in (self.score, self.category, self.right, self.left, self.density):
            w.setText("-")

    def hold(self, hidden: bool) -> None:
        """Hide (True) or show the result, now and for results still to come."""
        self.hidden = hidden
        self.first_look.setVisible(hidden)
        if self.result is not None:
            self.show_result(self.result)

    def reveal(self, early: bool) -> None:
        """Show a held-back result; `early`: asked for before the first look was done."""
        if not self.hidden:
            return
        self.hold(False)
        self.revealed.emit(early)
        self._emit()

    def show_result(self, result: ExamResult) -> None:
        self.result = result
        if self.hidden:
            self.status.setText("AI result ready; hidden until your first look is done")
            self.withheld.setVisible(False)
            for w in (self.score, self.category, self.right, self.left, self.density):
                w.setText("hidden")
            self.model.setText(f"{result.model_name} {result.model_version}")
            return
        self.status.setText(result.reason or "AI result")
        self.withheld.setChecked(False)
        self.withheld.setVisible(bool(result.outside_training)
                                 and any(v.withheld_marks for v in result.views))
        self.score.setText("-" if result.exam_score is None else f"{result.exam_score:.0f} / 100")
        self.category.setText("-" if result.category is None else f"{result.category} of 10")
        for side, label in (("R", self.right), ("L", self.left)):
            b = result.breast(side)
            if b is None or b.probability is None:
                label.setText(b.reason if b and b.reason else "not assessed")
            else:
                label.setText(f"{b.probability * 100:.0f}% (density {b.density or '-'})")
        self.density.setText(result.density or "-")
        self.model.setText(f"{result.model_name} {result.model_version} on {result.device}")

    def step_opacity(self, delta: int) -> None:
        self.opacity.setValue(max(0, min(100, self.opacity.value() + delta)))
