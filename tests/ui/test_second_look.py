"""CAD as a second look: an unread study's AI result stays off the screen
until the reader says the first look is done; asking for it earlier shows
it and is recorded in the read, and so is the reading time, which stops
while the window is not the active one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.ai.results import BreastResult, ExamResult, Mark, ViewResult
from engine.library import Library
from engine.library.reads import Read, current_read, sign
from tests.support.reading_window import library_window, open_in_window
from ui.reading_clock import ReadingClock


def _result(study) -> ExamResult:  # type: ignore[no-untyped-def]
    views = [ViewResult(f"{i.laterality}{i.view}", i.laterality, i.view, i.key,
                        "1.2.840.10008.5.1.4.1.1.1.2", "1.2.3", 100, 80, score=0.7,
                        marks=[Mark(40.0, 50.0, (30.0, 40.0, 50.0, 60.0), 0.9)])
             for i in study.images]
    return ExamResult(study.uid, "phantom", "1.0", "onnxruntime", "CPU", "2026-01-01", 70.0, 9,
                      "b", [BreastResult("R", 0.7, "b"), BreastResult("L", 0.1, "b")], views)


@pytest.fixture
def window(qtbot, ctx, small_cohort):
    return library_window(qtbot, ctx, small_cohort.files)


def _open(qtbot, w, uid: str, with_result: bool = True) -> None:
    open_in_window(qtbot, w, uid)
    if with_result:  # as if the AI had finished
        w.reading.study.result = _result(w.reading.study)
        w.reading._ai_state()


def _marks_on_tiles(w) -> int:
    return sum(len(t.marks) for t in w.reading.hanging.visible_tiles())


def test_the_ai_waits_for_the_first_look(qtbot, window):
    uid = window.worklist.model.rows[0].study_uid
    _open(qtbot, window, uid)
    panel = window.reading.ai
    assert panel.hidden and panel.score.text() == "hidden" and _marks_on_tiles(window) == 0
    assert panel.first_look.isVisible()
    qtbot.mouseClick(panel.first_look, Qt.MouseButton.LeftButton)
    assert not panel.hidden and panel.score.text() == "70 / 100"
    assert _marks_on_tiles(window) == 4
    window.reading.save_draft()
    with Library(window.ctx.paths.library) as lib:
        qtbot.waitUntil(lambda: current_read(lib, uid) is not None, timeout=10000)
        saved = current_read(lib, uid).read
    assert saved.ai_first_look_s is not None and not saved.ai_shown_early
    _open(qtbot, window, window.worklist.model.rows[1].study_uid)
    _open(qtbot, window, uid)  # the first look was done: the AI is not hidden again
    assert not window.reading.ai.hidden


def test_asking_for_the_ai_before_the_first_look_is_recorded(qtbot, window):
    uid = window.worklist.model.rows[0].study_uid
    _open(qtbot, window, uid)
    qtbot.keyClick(window, Qt.Key.Key_A)
    assert not window.reading.ai.hidden and _marks_on_tiles(window) == 4
    assert "before the first look" in window.status_msg.text()
    window.reading.save_draft()
    with Library(window.ctx.paths.library) as lib:
        qtbot.waitUntil(lambda: current_read(lib, uid) is not None, timeout=10000)
        assert current_read(lib, uid).read.ai_shown_early


def test_signed_studies_and_a_site_that_turned_it_off_show_the_ai_at_once(qtbot, window):
    rows = window.worklist.model.rows
    with Library(window.ctx.paths.library) as lib:
        sign(lib, rows[0].study_uid, "Dr A", Read(birads={"R": "1", "L": "1"},
                                                  density={"R": "b", "L": "b"},
                                                  recommendation="routine"))
    _open(qtbot, window, rows[0].study_uid)
    assert not window.reading.ai.hidden and _marks_on_tiles(window) == 4
    window.ctx.settings.update({"reading.cad_second_look": "no"})
    _open(qtbot, window, rows[1].study_uid)
    assert not window.reading.ai.hidden


def test_the_reading_clock_stops_while_the_window_is_inactive() -> None:
    now = [100.0]
    clock = ReadingClock(lambda: now[0])
    clock.start(12.0)
    now[0] += 30
    clock.set_active(False)
    now[0] += 600  # the reader is in another program
    clock.set_active(True)
    now[0] += 8
    assert clock.seconds() == 50.0
    clock.start(50.0, running=False)  # a signed read: the clock stands still
    now[0] += 100
    assert clock.seconds() == 50.0
