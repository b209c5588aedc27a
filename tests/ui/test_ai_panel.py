"""The AI panel with a study outside the model's training: no score, the
reason in its place, and the marks found anyway only when asked for."""

from __future__ import annotations

from engine.ai.results import OUTSIDE_TRAINING, BreastResult, ExamResult, Mark, ViewResult
from ui.ai_panel import AiPanel


def _result() -> ExamResult:
    views = [ViewResult(v, v[0], v[1:], f"1.2.3.{i}", "1.2.840.10008.5.1.4.1.1.1.2", "1.2.3.9",
                        64, 48, score=0.7, marks=[Mark(10.0, 12.0, (5.0, 6.0, 15.0, 18.0), 0.9)])
             for i, v in enumerate(("RCC", "LCC", "RMLO", "LMLO"))]
    return ExamResult("1.2.3", "mammodesk-phantom", "1.1.0", "onnxruntime", "CPU",
                      "2024-05-01T10:00:00+02:00", 88.0, 9, "c",
                      [BreastResult("R", 0.88, "c"), BreastResult("L", 0.1, "b")], views)


def test_a_result_inside_the_training_shows_its_score_and_no_extra_switch(qtbot):
    panel = AiPanel()
    qtbot.addWidget(panel)
    panel.show_result(_result())
    assert panel.score.text() == "88 / 100"
    assert panel.withheld.isHidden()


def test_a_study_outside_the_training_shows_why_instead_of_a_score(qtbot):
    panel = AiPanel()
    qtbot.addWidget(panel)
    result = _result()
    result.withhold(["RCC: image features unlike the training images"])
    panel.show_result(result)
    assert panel.score.text() == "-" and panel.category.text() == "-"
    assert panel.status.text().startswith(OUTSIDE_TRAINING)
    assert panel.right.text() == OUTSIDE_TRAINING
    assert not panel.withheld.isHidden() and not panel.withheld.isChecked()
    with qtbot.waitSignal(panel.overlays_changed):
        panel.withheld.setChecked(True)
    panel.show_state("no study open")  # the next study starts without them
    assert panel.withheld.isHidden() and not panel.withheld.isChecked()


def test_nothing_in_the_panel_is_cut_off_at_the_narrowest_side_panel(qtbot):
    from PySide6.QtWidgets import QAbstractButton, QLabel

    panel = AiPanel()
    qtbot.addWidget(panel)
    result = _result()
    result.breasts[1] = BreastResult("L", None, None, reason="no breast could be assessed: "
                                     "the image is outside what the model was trained on")
    panel.show_result(result)
    panel.withheld.setVisible(True)
    panel.hold(True)
    panel.resize(300, 900)  # the reading view's side panel is at least 300 px wide
    panel.show()
    qtbot.waitExposed(panel)
    panel.hold(False)
    for widget in panel.findChildren(QLabel) + panel.findChildren(QAbstractButton):
        if not widget.isVisible() or (isinstance(widget, QLabel) and widget.wordWrap()):
            continue
        needed = widget.fontMetrics().horizontalAdvance(widget.text().split("\n")[0])
        assert needed <= widget.width(), f"{widget.text()!r}: {needed} px in {widget.width()}"
