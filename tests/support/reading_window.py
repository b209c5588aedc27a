"""The main window over a library that holds a cohort, shown and with its
worklist filled: what the window's tests start from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from engine.library import Library, import_paths


def library_window(qtbot, ctx, files: Sequence[Path], size: tuple[int, int] = (1600, 1000),
                   studies: int = 4):  # type: ignore[no-untyped-def]
    """Import `files`, then a MainWindow of `size` with `studies` rows in its worklist."""
    with Library(ctx.paths.library) as lib:
        import_paths(lib, files)
    from ui.main_window import MainWindow

    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    w.refresh_worklist()
    qtbot.waitUntil(lambda: w.worklist.model.rowCount() == studies, timeout=10000)
    return w


def open_in_window(qtbot, w, uid: str) -> None:  # type: ignore[no-untyped-def]
    """Select and open a worklist study; returns once the reading view has it."""
    w.worklist.select(uid)
    w.open_study(uid)
    qtbot.waitUntil(lambda: w.reading.study is not None and w.reading.study.uid == uid,
                    timeout=20000)
