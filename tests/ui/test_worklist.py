"""The worklist: the AI score column says, once, that the model is not for
clinical use; age, the urgent flag, sorting, filters and "next unread"."""

from __future__ import annotations

import dataclasses
import datetime as dt

from PySide6.QtCore import QPoint, Qt

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
    from ui.worklist_model import _minutes

    assert [_minutes(None), _minutes(42.4), _minutes(75.5), _minutes(3600)] == \
        ["", "42 s", "1 min 16 s", "60 min 00 s"]


# -- age, priority, filters, next unread ------------------------------------------------

def _study(uid: str, status: str = "new", priority: str = "", age: int | None = 50,
           date: str = "20240105", patient: str = "MDP-1") -> WorklistRow:
    return dataclasses.replace(_row(uid, None), status=status, priority=priority, age=age,
                               study_date=date, patient_id=patient)


def _widget(qtbot, rows: list[WorklistRow]) -> WorklistWidget:
    widget = WorklistWidget()
    qtbot.addWidget(widget)
    widget.set_rows(rows)
    return widget


def _column(widget: WorklistWidget, header: str) -> int:
    model = widget.table.model()
    return next(c for c in range(model.columnCount())
                if model.headerData(c, HORIZONTAL, DISPLAY) == header)


def _cells(widget: WorklistWidget, header: str, role=DISPLAY) -> list:
    model, column = widget.table.model(), _column(widget, header)
    return [model.data(model.index(i, column), role) for i in range(model.rowCount())]


def test_age_and_an_urgent_flag_in_words_bold_and_red(qtbot):
    widget = _widget(qtbot, [_study("1", priority="urgent", age=53), _study("2", age=None)])
    assert _cells(widget, "Age") == ["53", ""]
    assert _cells(widget, "Priority") == ["URGENT", ""]
    urgent_font, routine_font = _cells(widget, "Priority", Qt.ItemDataRole.FontRole)
    assert urgent_font.bold() and routine_font is None
    urgent_colour = _cells(widget, "Priority", Qt.ItemDataRole.ForegroundRole)[0].color()
    assert urgent_colour.red() > 150 and urgent_colour.green() < 100


def test_clicking_the_priority_header_puts_urgent_studies_first(qtbot):
    rows = [_study("a"), _study("b", priority="urgent"), _study("c"),
            _study("d", priority="urgent")]
    widget = _widget(qtbot, rows)
    widget.resize(1400, 400)
    widget.show()
    assert widget.visible_uids() == ["a", "b", "c", "d"]  # newest first until asked
    header = widget.table.horizontalHeader()
    column = _column(widget, "Priority")
    middle = header.sectionViewportPosition(column) + header.sectionSize(column) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=QPoint(middle, header.height() // 2))
    assert widget.visible_uids() == ["b", "d", "a", "c"]  # the order within kept
    widget.set_rows(rows)  # a refresh keeps the sort
    assert widget.visible_uids() == ["b", "d", "a", "c"]


def test_next_unread_takes_urgent_unread_studies_first(qtbot):
    widget = _widget(qtbot, [
        _study("a", status="new"), _study("b", status="signed", priority="urgent"),
        _study("c", status="AI done"), _study("d", status="draft", priority="urgent"),
        _study("e", status="new", priority="urgent"), _study("f", status="sent")])
    assert widget.next_unread(None) == "d"  # the signed urgent one is read
    assert widget.next_unread("d") == "e"
    assert widget.next_unread("e") == "d"  # around again: still urgent and unread
    widget.set_rows([_study("a", status="new"), _study("b", status="signed", priority="urgent"),
                     _study("c", status="AI done"), _study("d", status="signed"),
                     _study("e", status="sent", priority="urgent"), _study("f", status="sent")])
    assert widget.next_unread(None) == "a"  # no urgent left: the list's own order
    assert widget.next_unread("a") == "c"
    assert widget.next_unread("c") == "a"


def _choose(box, label: str) -> None:
    index = box.findText(label)
    assert index >= 0, label
    box.setCurrentIndex(index)


def test_filters_narrow_the_list_combine_and_count(qtbot):
    today = dt.date.today()
    day = lambda n: (today - dt.timedelta(days=n)).strftime("%Y%m%d")  # noqa: E731
    widget = _widget(qtbot, [
        _study("1", status="new", priority="urgent", date=day(0), patient="MDP-A"),
        _study("2", status="AI done", date=day(3), patient="MDP-B"),
        _study("3", status="signed", priority="urgent", date=day(5), patient="MDP-A"),
        _study("4", status="draft", date=day(20), patient="MDP-C"),
        _study("5", status="sent", priority="urgent", date="", patient="MDP-D")])
    assert widget.visible_uids() == ["1", "2", "3", "4", "5"]
    assert widget.count.text() == "5 of 5 studies"
    _choose(widget.status, "unread")
    assert widget.visible_uids() == ["1", "2", "4"]
    assert widget.count.text() == "3 of 5 studies"
    _choose(widget.status, "signed")
    assert widget.visible_uids() == ["3"]
    _choose(widget.status, "all")
    widget.urgent_only.setChecked(True)
    assert widget.visible_uids() == ["1", "3", "5"]
    _choose(widget.dates, "last 7 days")
    assert widget.visible_uids() == ["1", "3"]  # a study without a date is out
    _choose(widget.dates, "today")
    assert widget.visible_uids() == ["1"]
    assert widget.count.text() == "1 of 5 studies"
    _choose(widget.dates, "last 30 days")
    widget.urgent_only.setChecked(False)
    widget.search.setText("MDP-A")
    assert widget.visible_uids() == ["1", "3"]
    _choose(widget.status, "unread")
    assert widget.visible_uids() == ["1"]
    assert widget.count.text() == "1 of 5 studies"


def test_the_filters_stay_when_the_list_is_refreshed(qtbot):
    rows = [_study("1", priority="urgent"), _study("2"), _study("3", status="signed")]
    widget = _widget(qtbot, rows)
    widget.urgent_only.setChecked(True)
    widget.set_rows([*rows, _study("4", priority="urgent"), _study("5")])
    assert widget.urgent_only.isChecked()
    assert widget.visible_uids() == ["1", "4"]
    assert widget.count.text() == "2 of 5 studies"


def test_u_and_the_context_menu_ask_to_toggle_the_priority(qtbot):
    widget = _widget(qtbot, [_study("1"), _study("2", priority="urgent")])
    widget.show()
    widget.activateWindow()
    qtbot.waitExposed(widget)
    widget.table.setFocus()
    widget.select("1")
    with qtbot.waitSignal(widget.priority_requested) as asked:
        qtbot.keyClick(widget.table, Qt.Key.Key_U)
    assert asked.args == ["1", True]
    widget.select("2")
    with qtbot.waitSignal(widget.priority_requested) as asked:
        qtbot.keyClick(widget.table, Qt.Key.Key_U)
    assert asked.args == ["2", False]
    menu = widget.context_menu()
    mark = next(a for a in menu.actions() if a.text() == "Mark routine")
    assert mark.shortcut().toString() == "U"
    with qtbot.waitSignal(widget.priority_requested) as asked:
        mark.trigger()
    assert asked.args == ["2", False]
    widget.select("1")
    assert "Mark urgent" in [a.text() for a in widget.context_menu().actions()]
    # Typing a "u" into the search box searches; it marks nothing.
    with qtbot.assertNotEmitted(widget.priority_requested):
        widget.search.setFocus()
        qtbot.keyClick(widget.search, Qt.Key.Key_U)
    assert widget.search.text() == "u"


def test_urgent_set_from_the_command_line_shows_and_is_read_first(qtbot, ctx, small_cohort):
    from tests.support.reading_window import library_window
    from ui.cli import main

    w = library_window(qtbot, ctx, small_cohort.files)
    last = w.worklist.visible_uids()[-1]
    library = ctx.paths.library
    assert main(["--home", str(library.parent), "--library", str(library),
                 "priority", last, "--urgent"]) == 0
    w.refresh_worklist()
    qtbot.waitUntil(lambda: next(r for r in w.worklist.model.rows
                                 if r.study_uid == last).urgent, timeout=10000)
    flags = dict(zip(w.worklist.visible_uids(), _cells(w.worklist, "Priority"), strict=True))
    assert flags[last] == "URGENT" and list(flags.values()).count("URGENT") == 1
    assert all(age and int(age) > 0 for age in _cells(w.worklist, "Age"))
    qtbot.keyClick(w, Qt.Key.Key_N)  # next unread: the urgent one, though it is last
    qtbot.waitUntil(lambda: w.reading.study is not None and w.reading.study.uid == last,
                    timeout=20000)


def test_next_unread_passes_over_double_readings_the_reader_signed(qtbot):
    from engine.library.worklist import ARBITRATION, SECOND_READ

    mine = dataclasses.replace(_study("a", status=SECOND_READ), read_by=("Dr A",))
    theirs = dataclasses.replace(_study("b", status=SECOND_READ), read_by=("Dr B",))
    disputed = dataclasses.replace(_study("c", status=ARBITRATION), read_by=("Dr A", "Dr B"))
    widget = _widget(qtbot, [mine, theirs, disputed])
    assert widget.next_unread(None, "dr a") == "b"  # names compare without case
    assert widget.next_unread("b", "Dr A") is None  # nothing else is due for Dr A
    assert widget.next_unread("b", "Dr C") == "c"  # a third reader arbitrates
    assert widget.next_unread(None) == "a"  # no reader given: every study still due
