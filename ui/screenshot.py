"""`main.py screenshot`: the reading view of a study rendered to a PNG or JPEG
file without a screen (Qt's offscreen platform), once every image is shown at
full resolution or has its reason.  A study without a screening view to hang
(a CT, say) is refused rather than drawn as empty cells."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import MammoDeskError
from engine.paths import AppPaths

if TYPE_CHECKING:
    from engine.reading.open_study import OpenedStudy
    from ui.reading_view import ReadingView

SIZE = (1920, 1080)
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


def image_format(out: Path) -> str:
    """The image format the file name asks for; MammoDeskError for any other."""
    fmt = FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise MammoDeskError(f"cannot write a screenshot as {Path(out).name}: name the file "
                             ".png (PNG) or .jpg/.jpeg (JPEG)")
    return fmt


def _settled(view: ReadingView) -> bool:
    for tile in view.hanging.visible_tiles():
        if tile.cell is None or tile.cell.placement is None or tile.problem:
            continue
        if tile.view is None or tile.view.full is None:
            return False
    return True


def _load_study(paths: AppPaths, target: str) -> OpenedStudy:
    """The study a folder or a library UID names, refused when it has no
    screening view (RCC, LCC, RMLO, LMLO) to hang."""
    from engine.display.hanging import group_views
    from ui.reading_view import load_folder_study, load_library_study

    path = Path(target)
    if path.exists():
        study = load_folder_study(path)
        if not study.images:
            raise MammoDeskError(f"no DICOM images found in {target}")
    else:
        from engine.library.catalog import study_exists
        from engine.library.store import Library

        with Library(paths.library) as lib:
            known = study_exists(lib, target)
        if not known:
            raise MammoDeskError(f"no such file or folder, and no study with UID {target}")
        study = load_library_study(paths.library, target)
    screening, _others = group_views(study.images)
    if not screening:
        raise MammoDeskError("this study has no mammography views (RCC, LCC, RMLO, LMLO) "
                             "to show; the screenshot is of the mammography reading view")
    return study


def render_screenshot(paths: AppPaths, target: str, out: Path, timeout_s: float = 120.0,
                      size: tuple[int, int] = SIZE) -> list[dict]:
    """Render and save; returns each cell's label, state and rectangle in the image."""
    from ui.app import make_app
    from ui.context import AppContext
    from ui.reading_view import ReadingView

    fmt = image_format(out)
    study = _load_study(paths, target)
    app = make_app()
    ctx = AppContext(paths, ai_enabled=False)  # stored AI results are shown; no model is run
    view = ReadingView(ctx)
    view.resize(*size)
    view.show()
    view.show_study(study)
    deadline = time.monotonic() + timeout_s
    while not _settled(view) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    app.processEvents()
    if not _settled(view):
        raise MammoDeskError("the images did not load in time for the screenshot")
    image = view.grab().toImage()
    out = Path(out)
    tmp = out.with_name(out.name + ".part" + out.suffix)
    # PySide6 takes the format as a str, which its stubs do not allow.
    if not image.save(str(tmp), fmt):  # type: ignore[call-overload]
        tmp.unlink(missing_ok=True)
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
