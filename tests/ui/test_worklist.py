"""The worklist's AI score column says, once, that the model is not for clinical use."""

from __future__ import annotations

from PySide6.QtCore import Qt

from engine.library.worklist import WorklistRow
from engine.notices import NOT_FOR_CLINICAL_USE, NOT_FOR_CLINICAL_USE_SHORT
from ui.worklist import WorklistWidget

HORIZONTAL = Qt.Orientation.Horizontal
DISPLAY, TOOLTIP = Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole


def _row(uid: str, score: float | None) -> WorklistRow:
    return WorklistRow(study_uid=uid, patient_id="MDP-1", patient_name="Synthetic^Anna",
                       study_date="20240105", description="screening",
                       views=["RCC", "LCC", "RMLO", "LMLO"], status="AI done",
                       exam_score=score, has_prior=False, ai_scope="")


def test_the_ai_score_column_header_and_its_tooltip_carry_the_notice(qtbot):
    widget = WorklistWidget()
    qtbot.addWidget(widget)
    widget.set_rows([_row("1.2.3", 87.0), _row("1.2.4", None)])
    model = widget.table.model()
    headers = [str(model.headerData(c, HORIZONTAL, DISPLAY)) for c in range(model.columnCount())]
    # The column that shows the score, found by what its first cell shows.
    score_column = next(c for c in range(model.columnCount())
                        if model.data(model.index(0, c), DISPLAY) == "87")
    assert headers[score_column] == f"AI score - {NOT_FOR_CLINICAL_USE_SHORT}"
    assert NOT_FOR_CLINICAL_USE in str(model.headerData(score_column, HORIZONTAL, TOOLTIP))
    # Once: no other header repeats it, and the scores themselves stay plain numbers.
    assert sum(NOT_FOR_CLINICAL_USE_SHORT in h for h in headers) == 1
    assert model.data(model.index(0, score_column), DISPLAY) == "87"


def test_reading_time_is_shown_in_minutes_and_seconds():
    from ui.worklist import _minutes

    assert [_minutes(None), _minutes(42.4), _minutes(75.5), _minutes(3600)] == \
        ["", "42 s", "1 min 16 s", "60 min 00 s"]
