"""`main.py screenshot`: the reading view of a study rendered to a PNG
without a screen (Qt's offscreen platform), once every image is shown at
full resolution or has its reason."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtWidgets import QApplication

from engine.errors import MammoDeskError
from engine.paths import AppPaths

SIZE = (1920, 1080)


def _settled(view) -> bool:  # type: ignore[no-untyped-def]
    for tile in view.hanging.visible_tiles():
        if tile.cell is None or tile.cell.placement is None or tile.problem:
            continue
        if tile.view is None or tile.view.full is None:
            return False
    return True


def render_screenshot(paths: AppPaths, target: str, out: Path, timeout_s: float = 120.0,
                      size: tuple[int, int] = SIZE) -> list[dict]:
    """Render and save; returns each cell's label, state and rectangle in the PNG."""
    from ui.app import make_app
    from ui.context import AppContext
    from ui.reading_view import ReadingView, load_folder_study, load_library_study

    make_app()
    ctx = AppContext(paths, ai_enabled=False)  # stored AI results are shown; no model is run
    view = ReadingView(ctx)
    view.resize(*size)
    view.show()
    path = Path(target)
    if path.exists():
        study = load_folder_study(path)
        if not study.images:
            raise MammoDeskError(f"no DICOM images found in {target}")
    else:
        from engine.library.store import Library

        with Library(paths.library) as lib:
            known = lib.conn.execute("SELECT 1 FROM studies WHERE study_uid = ?",
                                     (target,)).fetchone()
        if not known:
            raise MammoDeskError(f"no such file or folder, and no study with UID {target}")
        study = load_library_study(paths.library, target)
    view.show_study(study)
    deadline = time.monotonic() + timeout_s
    app = QApplication.instance()
    while not _settled(view) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    if not _settled(view):
        raise MammoDeskError("the images did not load in time for the screenshot")
    image = view.grab().toImage()
    out = Path(out)
    tmp = out.with_name(out.name + ".part.png")
    if not image.save(str(tmp), "PNG"):
        raise MammoDeskError(f"cannot write {out}")
    tmp.replace(out)
    ratio = image.width() / max(view.width(), 1)
    cells = []
    for t in view.hanging.visible_tiles():
        top_left = t.mapTo(view, t.rect().topLeft())
        cells.append({
            "label": t.cell.label if t.cell else "",
            "problem": t.problem,
            "rect": [round(v * ratio) for v in (top_left.x(), top_left.y(), t.width(),
                                                  t.height())],
            "anchor": t.vp.anchor,
        })
    ctx.close()
    from ui.app import finish

    finish(app, view)
    return cells
