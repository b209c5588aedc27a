"""Double reading in the window: the second reader sees an empty form, blind
to the first read; a disagreement on recall puts both reads, read-only,
before the third reader, whose signed read decides the study."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.library import Library
from engine.library.double_reads import stage
from engine.library.reads import Read, sign
from engine.reading import double_reading as dr
from tests.support.reading_window import library_window, open_in_window


@pytest.fixture
def window(qtbot, ctx, small_cohort):
    ctx.settings.update({"reading.double_reading": "yes", "reader.name": "Dr B"})
    return library_window(qtbot, ctx, small_cohort.files)


def _fill(panel, birads_r: str, recommendation: str, exam: str = "screening") -> None:
    for box, value in ((panel.birads["R"], birads_r), (panel.birads["L"], "1"),
                       (panel.density["R"], "b"), (panel.density["L"], "b"),
                       (panel.recommendation, recommendation), (panel.exam, exam)):
        box.setCurrentIndex(box.findData(value))


def _sign_in_window(qtbot, w, monkeypatch) -> None:
    monkeypatch.setattr("ui.reading_panel.confirm", lambda *_a: True)
    signed = []
    w.reading.study_changed.connect(lambda: signed.append(True))
    qtbot.mouseClick(w.reading.reading.sign, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(signed) and w.reading.reading.locked, timeout=10000)


def test_second_reader_is_blind_then_the_third_arbitrates(qtbot, window, monkeypatch):
    uid = window.worklist.model.rows[0].study_uid
    with Library(window.ctx.paths.library) as lib:
        sign(lib, uid, "Dr A", Read(birads={"R": "0", "L": "1"}, density={"R": "c", "L": "c"},
                                    recommendation="recall", impression="first reader's words"),
             double=True)
    open_in_window(qtbot, window, uid)
    panel = window.reading.reading
    qtbot.waitUntil(lambda: panel.double.text() == "Second reading: blind to the first read",
                    timeout=10000)
    # Nothing of Dr A's read: an empty, editable form and no other read shown.
    assert panel.birads["R"].currentData() is None and panel.impression.toPlainText() == ""
    assert not panel.locked and panel.others.isHidden()
    assert panel.exam.currentData() == "screening"
    _fill(panel, "1", "routine")
    _sign_in_window(qtbot, window, monkeypatch)
    with Library(window.ctx.paths.library) as lib:
        assert stage(lib, uid).name == dr.ARBITRATION_NEEDED
    assert panel.double.text() == "Arbitration: readers disagreed on recall"
    assert panel.others.isHidden()  # Dr B does not arbitrate

    window.ctx.settings.update({"reader.name": "Dr C"})
    open_in_window(qtbot, window, window.worklist.model.rows[1].study_uid)
    open_in_window(qtbot, window, uid)
    qtbot.waitUntil(lambda: panel.others.isVisibleTo(panel), timeout=10000)
    assert panel.double.text() == "Arbitration: readers disagreed on recall"
    lines = panel.others.text().splitlines()
    assert lines[0].startswith("First read by Dr A: right 0") and "(recall)" in lines[0]
    assert lines[1].startswith("Second read by Dr B: right 1") and "(no recall)" in lines[1]
    assert not panel.locked and panel.birads["R"].currentData() is None  # C's own, empty
    _fill(panel, "0", "recall")
    _sign_in_window(qtbot, window, monkeypatch)
    with Library(window.ctx.paths.library) as lib:
        now = stage(lib, uid)
    assert now.name == dr.ARBITRATED and now.final.reader == "Dr C" and now.recall is True
    assert panel.double.text() == "Double reading decided by arbitration"


def test_edits_kept_on_leaving_are_the_readers_own_first_read(qtbot, window):
    rows = window.worklist.model.rows
    open_in_window(qtbot, window, rows[0].study_uid)
    panel = window.reading.reading
    qtbot.waitUntil(lambda: panel.double.text() == "First reading: blind to the second read",
                    timeout=10000)
    _fill(panel, "2", "routine", "diagnostic")
    open_in_window(qtbot, window, rows[1].study_uid)  # leaving keeps the edits as a draft
    with Library(window.ctx.paths.library) as lib:
        qtbot.waitUntil(lambda: stage(lib, rows[0].study_uid).first is not None, timeout=10000)
        first = stage(lib, rows[0].study_uid).first
    assert first.reader == "Dr B" and not first.signed and first.read.exam == "diagnostic"
