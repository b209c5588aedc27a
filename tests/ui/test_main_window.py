"""The workstation as a radiologist drives it: worklist, opening by keyboard,
hanging layouts, shortcuts, reading and sign-off, a corrupt image."""

from __future__ import annotations

import shutil

import pydicom
import pytest
from PySide6.QtCore import Qt

from engine.display.viewport import FIT, PIXEL, TRUE_SIZE
from engine.library import Library, import_paths
from engine.library.reads import current_read
from tests.support.reading_window import library_window


@pytest.fixture
def window(qtbot, ctx, small_cohort):
    return library_window(qtbot, ctx, small_cohort.files, (1400, 900))


def _loaded(w) -> bool:
    tiles = [t for t in w.reading.hanging.visible_tiles() if t.cell and t.cell.placement]
    return bool(tiles) and all(t.problem or (t.view is not None and t.view.full is not None)
                               for t in tiles)


def _open_first(qtbot, w):
    w.worklist.table.setFocus()
    w.worklist.table.selectRow(0)
    qtbot.keyClick(w.worklist.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.reading.study is not None and _loaded(w), timeout=20000)


def test_enter_opens_the_study_in_the_2x2_hang(qtbot, window):
    uid = window.worklist.current_uid()
    _open_first(qtbot, window)
    assert window.stack.currentWidget() is window.reading
    assert window.reading.study.uid == uid
    tiles = window.reading.hanging.visible_tiles()
    assert [t.cell.label for t in tiles] == ["RCC", "LCC", "RMLO", "LMLO"]
    assert [t.vp.anchor for t in tiles] == ["right", "left", "right", "left"]
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is window.worklist


def test_keyboard_shortcuts_drive_the_viewer(qtbot, window):
    _open_first(qtbot, window)
    tiles = window.reading.hanging.visible_tiles()
    qtbot.keyClick(window, Qt.Key.Key_1)
    assert all(t.vp.mode == PIXEL for t in tiles)
    qtbot.keyClick(window, Qt.Key.Key_T)
    assert all(t.vp.mode == TRUE_SIZE for t in tiles)
    qtbot.keyClick(window, Qt.Key.Key_F)
    assert all(t.vp.mode == FIT for t in tiles)
    qtbot.keyClick(window, Qt.Key.Key_I)
    assert all(t.invert for t in tiles)
    qtbot.keyClick(window, Qt.Key.Key_R)
    assert not any(t.invert for t in tiles)
    qtbot.keyClick(window, Qt.Key.Key_M)
    assert all(t.magnifier for t in tiles)
    # An unread study's AI waits for the first look (second look, the default):
    # Shift+A shows it, then H switches the heatmap.
    assert window.reading.ai.hidden
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.ShiftModifier)
    assert not window.reading.ai.hidden
    qtbot.keyClick(window, Qt.Key.Key_H)
    assert window.reading.ai.heat.isChecked()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert [t.cell.label for t in window.reading.hanging.visible_tiles()] == ["RCC", "LCC"]
    qtbot.keyClick(window, Qt.Key.Key_4, Qt.KeyboardModifier.ControlModifier)
    assert [t.cell.label for t in window.reading.hanging.visible_tiles()] == ["RCC", "RMLO"]
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert len(window.reading.hanging.visible_tiles()) == 4
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert window.help.isVisible()
    assert ("Ctrl+Return", "Sign the read (locks it)") in window.help.shortcuts
    qtbot.keyClick(window.help, Qt.Key.Key_Escape)
    assert not window.help.isVisible()


@pytest.mark.slow
def test_zoom_and_pan_are_linked_across_views(qtbot, window):
    _open_first(qtbot, window)
    first, second = window.reading.hanging.visible_tiles()[:2]
    first.zoom_by(2.0)
    assert second.vp.mode == first.vp.mode and second.vp.scale == pytest.approx(first.vp.scale)
    qtbot.keyClick(window, Qt.Key.Key_L)
    first.zoom_by(2.0)
    assert second.vp.scale != pytest.approx(first.vp.scale)


@pytest.mark.slow
def test_prior_comparison_and_next_study(qtbot, window):
    rows = window.worklist.model.rows
    with_prior = next(r for r in rows if r.has_prior)
    window.open_study(with_prior.study_uid)
    qtbot.waitUntil(lambda: window.reading.study is not None and _loaded(window), timeout=20000)
    qtbot.keyClick(window, Qt.Key.Key_C)
    labels = [t.cell.label for t in window.reading.hanging.visible_tiles()]
    assert labels == ["RCC", "LCC", "RCC prior", "LCC prior"]
    qtbot.waitUntil(lambda: _loaded(window), timeout=20000)
    prior_tile = window.reading.hanging.visible_tiles()[2]
    assert prior_tile.view is not None and prior_tile.view.key != \
        window.reading.hanging.visible_tiles()[0].view.key
    before = window.reading.study.uid
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    qtbot.waitUntil(lambda: window.reading.study is not None
                    and window.reading.study.uid != before, timeout=20000)


def test_sign_off_locks_the_read(qtbot, window, monkeypatch):
    import ui.reading_panel

    summaries: list[str] = []  # Ctrl+Enter: the checks pass, the summary is confirmed
    monkeypatch.setattr(ui.reading_panel, "confirm",
                        lambda _parent, _title, text: summaries.append(text) or True)
    _open_first(qtbot, window)
    panel = window.reading.reading
    window.ctx.settings.update({"reader.name": "Dr Synthetic"})
    for side, birads, density in (("R", "1", "b"), ("L", "2", "b")):
        panel.birads[side].setCurrentIndex(panel.birads[side].findData(birads))
        panel.density[side].setCurrentIndex(panel.density[side].findData(density))
    panel.recommendation.setCurrentIndex(panel.recommendation.findData("routine"))
    panel.impression.setPlainText("No evidence of malignancy.")
    qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.locked, timeout=10000)
    assert len(summaries) == 1 and "routine" in summaries[0].lower()
    assert "Signed by Dr Synthetic" in panel.state.text()
    assert not panel.birads["R"].isEnabled() and not panel.impression.isEnabled()
    assert panel.addendum.isEnabled()
    with Library(window.ctx.paths.library) as lib:
        stored = current_read(lib, window.reading.study.uid)
    assert stored.signed and stored.read.birads == {"R": "1", "L": "2"}
    panel.addendum_text.setPlainText("Reviewed with the prior: stable.")
    panel.addendum.click()
    qtbot.waitUntil(lambda: "stable" in panel.history.text(), timeout=10000)
    # Signing queues the study for the cloud; with none configured it waits.
    window.refresh_worklist()
    qtbot.waitUntil(lambda: any(r.status == "signed" for r in window.worklist.model.rows),
                    timeout=10000)
    qtbot.waitUntil(lambda: window.sync_label.text() == "offline: no cloud configured",
                    timeout=10000)


@pytest.mark.slow
def test_signing_an_incomplete_read_says_what_is_missing(qtbot, window):
    _open_first(qtbot, window)
    window.reading.sign()
    qtbot.waitUntil(lambda: "cannot sign: no BI-RADS" in window.status_msg.text(), timeout=10000)
    assert not window.reading.reading.locked


@pytest.mark.slow
def test_a_corrupt_image_shows_its_reason_and_the_rest_works(qtbot, ctx, small_cohort, tmp_path):
    study = sorted({p.parent for p in small_cohort.files})[0]
    copy = tmp_path / "study"
    shutil.copytree(study, copy)
    victim = copy / "LCC.dcm"
    ds = pydicom.dcmread(victim)
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 3]  # truncated pixel data
    ds.save_as(victim, enforce_file_format=True)
    from ui.reading_view import ReadingView, load_folder_study

    view = ReadingView(ctx)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    view.show_study(load_folder_study(copy))
    tiles = {t.cell.label: t for t in view.hanging.visible_tiles()}
    qtbot.waitUntil(lambda: tiles["LCC"].problem is not None, timeout=20000)
    assert "pixel data" in tiles["LCC"].problem
    qtbot.waitUntil(lambda: all(tiles[k].view is not None for k in ("RCC", "RMLO", "LMLO")),
                    timeout=20000)


@pytest.mark.slow
def test_missing_views_hang_with_a_label(qtbot, ctx, small_cohort, tmp_path):
    study = sorted({p.parent for p in small_cohort.files})[0]
    copy = tmp_path / "study"
    shutil.copytree(study, copy)
    (copy / "LMLO.dcm").unlink()
    from ui.reading_view import ReadingView, load_folder_study

    view = ReadingView(ctx)
    qtbot.addWidget(view)
    view.show()
    view.show_study(load_folder_study(copy))
    labels = [t.cell.label for t in view.hanging.visible_tiles()]
    assert labels == ["RCC", "LCC", "RMLO", "LMLO missing"]
    assert view.hanging.visible_tiles()[3].view is None


@pytest.mark.slow
def test_ai_runs_in_the_background_and_fills_the_panel(qtbot, paths, scored_cohort):
    from ui.context import READY, AppContext
    from ui.main_window import MainWindow

    with Library(paths.library) as lib:
        import_paths(lib, scored_cohort.files)
    ctx = AppContext(paths, ai_enabled=True)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    w.refresh_worklist()
    assert "loading" in ctx.model_text
    ctx.load_model()
    qtbot.waitUntil(lambda: w.worklist.model.rowCount() == 4, timeout=10000)
    _open_first(qtbot, w)
    qtbot.waitUntil(lambda: ctx.model_state == READY, timeout=60000)
    panel = w.reading.ai
    qtbot.waitUntil(lambda: panel.result is not None, timeout=60000)
    assert panel.score.text() == "hidden"  # a second look: after the first one
    panel.reveal(early=False)
    assert panel.score.text().endswith("/ 100")
    assert "not for clinical use" in panel.notice.text()
    assert "mammodesk-phantom" in w.model_label.text() and "CPU" in w.model_label.text()
    with_marks = [t for t in w.reading.hanging.visible_tiles() if t.marks]
    assert sum(len(v.marks) for v in panel.result.views) == sum(len(t.marks) for t in with_marks)
    w.refresh_worklist()
    uid = w.reading.study.uid
    qtbot.waitUntil(lambda: next(r for r in w.worklist.model.rows if r.study_uid == uid).status
                    == "AI done", timeout=10000)
    ctx.close()


def test_import_by_drop_adds_studies_to_the_worklist(qtbot, ctx, small_cohort):
    from ui.main_window import MainWindow

    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    w.refresh_worklist()
    qtbot.waitUntil(lambda: "0 of 0" in w.worklist.count.text(), timeout=10000)
    w.import_paths([small_cohort.out_dir])
    qtbot.waitUntil(lambda: w.worklist.model.rowCount() == 4, timeout=30000)
    assert "imported 16 image(s)" in w.status_msg.text()
    w.worklist.search.setText(w.worklist.model.rows[0].patient_id)
    assert w.worklist.proxy.rowCount() >= 1
    w.worklist.search.setText("no such patient")
    assert w.worklist.proxy.rowCount() == 0


@pytest.mark.slow
def test_pdf_report_has_the_read_and_the_notice(qtbot, window, tmp_path):
    _open_first(qtbot, window)
    panel = window.reading.reading
    panel.birads["R"].setCurrentIndex(panel.birads["R"].findData("2"))
    from engine.reporting.report_text import report_lines
    from ui.report import export_report

    lines = report_lines(window.reading.study, window.reading.reading.read())
    text = "\n".join(t for t, _b in lines)
    assert "BI-RADS 2 - benign" in text and "DRAFT - not signed" in text
    assert "not for clinical use" in text
    assert f"ID: {window.reading.study.patient.patient_id}" in text
    out = tmp_path / "report.pdf"
    export_report(window.reading, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000  # text plus the key image
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.slow
def test_leaving_a_study_keeps_unsaved_edits_as_a_draft(qtbot, window):
    _open_first(qtbot, window)
    uid = window.reading.study.uid
    panel = window.reading.reading
    panel.birads["L"].setCurrentIndex(panel.birads["L"].findData("3"))
    panel.impression.setPlainText("Probably benign; six-month follow-up.")
    assert panel.dirty
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is window.worklist

    def saved():  # type: ignore[no-untyped-def]
        with Library(window.ctx.paths.library) as lib:
            return current_read(lib, uid)

    qtbot.waitUntil(lambda: saved() is not None, timeout=10000)
    read = saved()
    assert not read.signed and read.read.birads["L"] == "3"
    assert read.read.impression.startswith("Probably benign")


def test_outcomes_and_the_audit_open_from_their_keys(qtbot, window):
    from PySide6.QtWidgets import QApplication

    from ui.audit_window import AuditWindow
    from ui.outcome_form import OutcomeForm

    def shown(kind):
        return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]

    uid = window.worklist.current_uid()
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)  # from the worklist: its selection
    forms = shown(OutcomeForm)
    assert [f.study_uid for f in forms] == [uid]
    forms[0].close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    _open_first(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)  # from the reading view: the open study
    assert [f.study_uid for f in shown(OutcomeForm)] == [window.reading.study.uid]
    shown(OutcomeForm)[0].close()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    qtbot.keyClick(window, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    audits = shown(AuditWindow)
    assert len(audits) == 1
    audits[0].close()


def test_u_marks_the_selected_study_urgent_in_the_library(qtbot, window, ctx):
    from engine.library.worklist import worklist

    uid = window.worklist.current_uid()
    window.worklist.table.setFocus()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_U)

    def urgent_in_library() -> bool:
        with Library(ctx.paths.library) as lib:
            return next(r for r in worklist(lib) if r.study_uid == uid).urgent

    qtbot.waitUntil(urgent_in_library, timeout=10000)
    qtbot.waitUntil(lambda: window.status_msg.text() == "marked urgent", timeout=10000)
    qtbot.waitUntil(lambda: next(r for r in window.worklist.model.rows
                                 if r.study_uid == uid).urgent, timeout=10000)
    window.worklist.select(uid)
    window.worklist.table.setFocus()
    qtbot.keyClick(window.worklist.table, Qt.Key.Key_U)
    qtbot.waitUntil(lambda: not urgent_in_library(), timeout=10000)
