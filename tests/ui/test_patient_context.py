"""The reading view says whose study is open (name, age, birth date, ID,
accession, date), prior tiles say when the prior was taken, and the status
bar speaks only of the study that is open."""

from __future__ import annotations

import logging

import pydicom
import pytest
from PySide6.QtCore import Qt

from engine.dates import shown_date
from engine.library.listing import shown_name
from engine.library.reads import Read
from engine.reporting.patient import PatientContext, age_at, shown_age
from tests.support.reading_window import library_window

CONSISTENT = Read(birads={"R": "1", "L": "1"}, density={"R": "b", "L": "b"},
                  recommendation="routine")


@pytest.mark.parametrize(("pn", "shown"), [
    ("Synthetic^Anna", "Synthetic, Anna"),
    ("SYNTHETIC^ANNA^MARIA^Mrs", "SYNTHETIC, Mrs ANNA MARIA"),
    ("Synthetic", "Synthetic"),
    ("^Anna", "Anna"),
    ("Synthetic^Anna=Ideographic^Name", "Synthetic, Anna"),
    ("", ""),
])
def test_person_names_read_family_comma_given(pn, shown):
    assert shown_name(pn) == shown


def test_age_comes_from_the_dates_else_from_patient_age():
    assert age_at("19720304", "20240303") == "51 y"
    assert age_at("19720304", "20240304") == "52 y"
    assert age_at("", "20240304") == age_at("1972", "20240304") == ""
    assert age_at("20250101", "20240304") == ""
    assert shown_age("052Y") == "52 y" and shown_age("nonsense") == ""
    context = PatientContext.of("Synthetic^Anna", "MDP-1", "", "ACC1", "20240304", "061Y")
    assert context.age == "61 y"
    line = context.shown()
    assert "Synthetic, Anna" in line and "age 61 y" in line and "ACC1" in line
    assert "2024-03-04" in line and "MDP-1" in line


@pytest.fixture
def window(qtbot, ctx, small_cohort):
    return library_window(qtbot, ctx, small_cohort.files)


def _open(qtbot, w, uid: str) -> None:
    w.worklist.select(uid)
    w.open_study(uid)
    qtbot.waitUntil(lambda: w.reading.study is not None and w.reading.study.uid == uid,
                    timeout=20000)


def _header(small_cohort, uid: str) -> pydicom.Dataset:
    for f in small_cohort.files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        if ds.StudyInstanceUID == uid:
            return ds
    raise AssertionError("no file of the study")


def test_the_header_shows_who_and_which_study(qtbot, window, small_cohort, caplog):
    caplog.set_level(logging.DEBUG)
    row = next(r for r in window.worklist.model.rows if r.has_prior)
    _open(qtbot, window, row.study_uid)
    ds = _header(small_cohort, row.study_uid)
    family, given = str(ds.PatientName).split("^")[:2]
    text = window.reading.title.text()
    assert f"{family}, {given}" in text
    assert f"born {shown_date(ds.PatientBirthDate)}" in text
    assert f"age {age_at(ds.PatientBirthDate, ds.StudyDate)}" in text
    assert ds.PatientID in text and ds.AccessionNumber in text
    assert shown_date(ds.StudyDate) in text
    # On screen, never in the log.
    for secret in (family, ds.PatientBirthDate, shown_date(ds.PatientBirthDate)):
        assert secret not in caplog.text


def test_prior_tiles_show_the_prior_date(qtbot, window):
    rows = window.worklist.model.rows
    row = next(r for r in rows if r.has_prior)
    prior = max((r for r in rows if r.patient_id == row.patient_id
                 and r.study_date < row.study_date), key=lambda r: r.study_date)
    _open(qtbot, window, row.study_uid)
    for modifier, view in ((Qt.KeyboardModifier.NoModifier, "CC"),
                           (Qt.KeyboardModifier.ShiftModifier, "MLO")):
        qtbot.keyClick(window, Qt.Key.Key_C, modifier)
        tiles = window.reading.hanging.visible_tiles()
        assert [t.cell.view for t in tiles] == [view] * 4
        assert [t.cell.study for t in tiles] == [0, 0, 1, 1]
        for t in tiles[2:]:
            assert f"prior {shown_date(prior.study_date)}" in t.title_lines()
        for t in tiles[:2]:
            assert f"current {shown_date(row.study_date)}" in t.title_lines()
        qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    # The 2x2 shows one study: no captions.
    assert all(t.caption == "" for t in window.reading.hanging.visible_tiles())


def test_status_lines_belong_to_the_study_they_were_said_of(qtbot, window):
    first, second = (r.study_uid for r in window.worklist.model.rows[:2])
    _open(qtbot, window, first)
    window.reading.save_draft(CONSISTENT)
    qtbot.waitUntil(lambda: window.status_msg.text() == "draft saved", timeout=10000)
    # Another study opens: the first one's line goes.
    _open(qtbot, window, second)
    assert window.status_msg.text() == ""
    # A line about the first study, arriving late, is not shown for the second.
    window.reading.study_message.emit(first, "read signed and locked")
    assert window.status_msg.text() == ""
    # A failure of work on the second study, finishing after the first opened again.
    window.reading.sign()  # the second study's empty read cannot be signed
    window.open_study(first)
    qtbot.waitUntil(lambda: window.reading.study is not None
                    and window.reading.study.uid == first, timeout=20000)
    qtbot.waitUntil(lambda: window.ctx.ops.pending == 0, timeout=20000)
    assert "sign" not in window.status_msg.text()
    # Lines about no study in particular stay.
    window.say("imported 4 image(s)")
    _open(qtbot, window, second)
    assert window.status_msg.text() == "imported 4 image(s)"
