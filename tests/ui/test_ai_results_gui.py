"""The window gives every study a result of the active model: after an import
(also the studies an earlier, interrupted import left without one), and when
a study whose stored result is of another model is opened."""

from __future__ import annotations

import shutil

import pydicom
import pytest

from engine.library import Library, import_paths
from engine.library.ai_results import study_uids_with_result
from engine.library.catalog import study_files, study_uids
from tests.support.sr import make_result

pytestmark = pytest.mark.slow  # the model loads in a process of its own

def _active(paths) -> tuple[str, str]:
    from engine.ai.service import current_package

    package = current_package(paths.models)  # the shipped model
    return package.name, package.version


def _with_result(paths) -> set[str]:
    with Library(paths.library) as lib:
        return study_uids_with_result(lib, _active(paths))


def _window(qtbot, paths):
    from ui.context import READY, AppContext
    from ui.main_window import MainWindow

    ctx = AppContext(paths, ai_enabled=True)
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    ctx.load_model()
    qtbot.waitUntil(lambda: ctx.model_state == READY, timeout=60000)
    assert (ctx.model or {}).get("name") == _active(paths)[0]
    return ctx, w


def test_an_import_in_the_window_also_analyses_studies_left_without_a_result(
        qtbot, paths, scored_cohort, tmp_path):
    folders = sorted(p for p in scored_cohort.out_dir.iterdir() if p.is_dir())
    with Library(paths.library) as lib:  # an earlier import stopped before the AI ran
        import_paths(lib, [folders[0]])
        left_behind = set(study_uids(lib))
    rest = tmp_path / "rest"
    for folder in folders[1:]:
        shutil.copytree(folder, rest / folder.name)
    ctx, w = _window(qtbot, paths)
    try:
        w.import_paths([rest])
        qtbot.waitUntil(lambda: len(_with_result(paths)) == len(folders), timeout=120000)
        assert left_behind <= _with_result(paths)
    finally:
        ctx.close()


def test_opening_a_study_with_another_models_result_analyses_it_with_the_active_one(
        qtbot, paths, scored_cohort):
    with Library(paths.library) as lib:
        import_paths(lib, scored_cohort.files)
        uid = study_uids(lib)[0]
        headers = [pydicom.dcmread(f.path, stop_before_pixels=True)
                   for f in study_files(lib, uid)]
        from engine.ai.store import save_result

        save_result(lib, make_result(headers))  # a result of another model
    ctx, w = _window(qtbot, paths)
    try:
        w.open_study(uid)
        panel = w.reading.ai
        qtbot.waitUntil(lambda: panel.result is not None
                        and panel.result.model_name == _active(paths)[0], timeout=60000)
        assert uid in _with_result(paths)
        panel.reveal(early=False)  # an unread study: the AI waits for the first look
        assert panel.score.text().endswith("/ 100")
    finally:
        ctx.close()
