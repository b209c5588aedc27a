"""The outcomes form: a valid outcome is written through the engine and listed;
a refused one shows the engine's reason in the form and writes nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from PySide6.QtCore import QDate

from engine.library import Library, import_paths
from engine.library.outcomes import list_outcomes
from tests.support.dicom_factory import mg_dataset

UID = "1.2.826.0.1.3680043.10.1234.77"
STUDY_DATE = dt.date(2024, 3, 1)


@pytest.fixture
def study(ctx, tmp_path):
    folder = tmp_path / "dicom"
    folder.mkdir()
    mg_dataset(StudyInstanceUID=UID, PatientID="SYN-OUT-1", StudyDate="20240301",
               AccessionNumber="ACC77").save_as(folder / "a.dcm", enforce_file_format=True)
    with Library(ctx.paths.library) as lib:
        assert not import_paths(lib, [folder]).rejected
    return UID


def stored(ctx):
    with Library(ctx.paths.library) as lib:
        return list_outcomes(lib, UID)


def opened(qtbot, ctx, uid):
    from ui.outcome_form import open_outcome_form

    form = open_outcome_form(ctx, uid)
    qtbot.addWidget(form)
    qtbot.waitUntil(lambda: form.add_button.isEnabled(), timeout=10000)
    return form


def fill(form, *, side="Left", result="malignant", date=STUDY_DATE + dt.timedelta(days=20),
         histology="invasive lobular carcinoma", size=14.0, nodes="positive",
         procedure="surgery"):
    form.side_box.setCurrentText(side)
    form.result_box.setCurrentText(result)
    form.date_edit.setDate(QDate(date.year, date.month, date.day))
    form.procedure_box.setCurrentText(procedure)
    form.histology_box.setCurrentText(histology)
    if form.size_box.isEnabled():
        form.size_box.setValue(size)
    if form.nodes_box.isEnabled():
        form.nodes_box.setCurrentText(nodes)


def test_a_valid_outcome_is_saved_and_listed(qtbot, ctx, study):
    form = opened(qtbot, ctx, study)
    assert "ACC77" in form.title.text() and "2024-03-01" in form.title.text()
    assert form.table.rowCount() == 0 and not form.empty.isHidden()
    fill(form)
    with qtbot.waitSignal(form.saved, timeout=10000):
        form.add_button.click()
    [o] = stored(ctx)
    assert (o.side, o.result, o.date, o.histology, o.size_mm, o.nodes, o.procedure) == (
        "L", "malignant", dt.date(2024, 3, 21), "invasive lobular carcinoma", 14.0,
        "positive", "surgery")
    assert form.table.rowCount() == 1
    row = [form.table.item(0, c).text() for c in range(form.table.columnCount())]
    assert row == ["2024-03-21", "Left", "malignant", "surgery", "invasive lobular carcinoma",
                   "14 mm", "positive"]
    assert form.error.text() == "" and form.empty.isHidden()


def test_an_outcome_before_the_study_shows_the_reason_and_saves_nothing(qtbot, ctx, study):
    form = opened(qtbot, ctx, study)
    fill(form, date=STUDY_DATE - dt.timedelta(days=1))
    form.add_button.click()
    qtbot.waitUntil(lambda: form.error.text() != "", timeout=10000)
    assert form.error.text() == "the outcome's date is before the study's date"
    assert stored(ctx) == [] and form.table.rowCount() == 0


def test_benign_results_take_no_size_or_nodes(qtbot, ctx, study):
    form = opened(qtbot, ctx, study)
    fill(form, result="benign", histology="fibroadenoma", procedure="biopsy")
    assert not form.size_box.isEnabled() and not form.nodes_box.isEnabled()
    with qtbot.waitSignal(form.saved, timeout=10000):
        form.add_button.click()
    [o] = stored(ctx)
    assert (o.result, o.size_mm, o.nodes, o.histology) == ("benign", None, "unknown",
                                                           "fibroadenoma")


def test_the_same_outcome_twice_is_recorded_once(qtbot, ctx, study):
    form = opened(qtbot, ctx, study)
    fill(form)
    with qtbot.waitSignal(form.saved, timeout=10000):
        form.add_button.click()
    form.add_button.click()
    qtbot.waitUntil(lambda: form.error.text() != "", timeout=10000)
    assert "already recorded" in form.error.text()
    assert len(stored(ctx)) == 1 and form.table.rowCount() == 1


def test_a_date_past_the_follow_up_year_is_noted(qtbot, ctx, study):
    form = opened(qtbot, ctx, study)
    fill(form, date=STUDY_DATE + dt.timedelta(days=200))
    assert form.note.text() == ""
    fill(form, date=STUDY_DATE + dt.timedelta(days=400))
    assert "more than a year after the study" in form.note.text()


def test_the_date_cannot_be_set_in_the_future(qtbot, ctx, study):
    form = opened(qtbot, ctx, study)
    assert form.date_edit.date() == QDate.currentDate()
    form.date_edit.setDate(QDate.currentDate().addDays(3))
    assert form.date_edit.date() == QDate.currentDate()


def test_a_study_not_in_the_library_says_so(qtbot, ctx):
    from ui.outcome_form import open_outcome_form

    form = open_outcome_form(ctx, "1.2.3.4")
    qtbot.addWidget(form)
    qtbot.waitUntil(lambda: form.error.text() != "", timeout=10000)
    assert form.error.text() == "no such study in the library"
    assert not form.add_button.isEnabled()
