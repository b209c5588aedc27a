"""`main.py screenshot`: the reading view of a study rendered to a PNG or JPEG
file without a screen (Qt's offscreen platform), once every image is shown at
full resolution or has its reason.  A study without a screening view to hang
(a CT, say) is refused rather than drawn as empty cells.  By default the view
is as the study opens (the reading sequence's first step it can fill); a step
number shows that step of the site's reading sequence instead."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import MammoDeskError
from engine.paths import AppPaths

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from engine.display.protocol import Step
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


def site_steps(paths: AppPaths) -> list[Step]:
    """The reading sequence as the window walks it: the site's ``hanging.steps``
    setting, or the default when it is unset or unusable."""
    from engine.display.protocol import DEFAULT_STEPS, parse_steps
    from engine.settings import Settings

    try:
        return parse_steps(Settings(paths.config).get("hanging.steps"))
    except Exception:  # the window falls back the same way, and says why in its log
        return list(DEFAULT_STEPS)


def check_step(steps: list[Step], number: int, priors: int) -> None:
    """MammoDeskError when the sequence has no step `number` (1 = the first)
    or it needs more earlier studies than the patient has (`priors`)."""
    if not 1 <= number <= len(steps):
        raise MammoDeskError(f"there is no step {number}: the reading sequence has steps 1 to "
                             f"{len(steps)}")
    step = steps[number - 1]
    if step.needs_prior > priors:
        raise MammoDeskError(f"step {number} ({step.name}) compares with an earlier study, and "
                             "the library holds none for this patient")


def show_step(view: ReadingView, number: int) -> None:
    """Hang step `number` (1 = the first) of the view's reading sequence."""
    priors = 1 if view.study is not None and view.study.prior else 0
    check_step(view.walker.steps, number, priors)
    view.walker.show(number - 1)


def render_screenshot(paths: AppPaths, target: str, out: Path, timeout_s: float = 120.0,
                      size: tuple[int, int] = SIZE, step: int | None = None) -> list[dict]:
    """Render and save; returns each cell's label, caption (the study's date
    where a hang mixes two studies), state and rectangle in the image.
    `step`: the reading sequence's step to show (1 = the first)."""
    from ui.app import make_app
    from ui.context import AppContext
    from ui.reading_view import ReadingView

    fmt = image_format(out)
    study = _load_study(paths, target)
    if step is not None:  # refused before any window opens
        check_step(site_steps(paths), step, 1 if study.prior else 0)
    app = make_app()
    ctx = AppContext(paths, ai_enabled=False)  # stored AI results are shown; no model is run
    view = ReadingView(ctx)
    try:
        view.resize(*size)
        view.show()
        view.show_study(study)
        if step is not None:
            show_step(view, step)
        deadline = time.monotonic() + timeout_s
        while not _settled(view) and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        app.processEvents()
        if not _settled(view):
            raise MammoDeskError("the images did not load in time for the screenshot")
        image = view.grab().toImage()
        _save(image, Path(out), fmt)
        return _cells(view, image.width() / max(view.width(), 1))
    finally:
        ctx.close()
        from ui.app import finish

        finish(app, view)


def _save(image: QImage, out: Path, fmt: str) -> None:
    """The file appears complete or not at all."""
    tmp = out.with_name(out.name + ".part" + out.suffix)
    # PySide6 takes the format as a str, which its stubs do not allow.
    if not image.save(str(tmp), fmt):  # type: ignore[call-overload]
        tmp.unlink(missing_ok=True)
        raise MammoDeskError(f"cannot write {out}")
    tmp.replace(out)


def _cells(view: ReadingView, ratio: float) -> list[dict]:
    """Each visible cell: label, caption, problem, rectangle in the image, anchor."""
    cells = []
    for t in view.hanging.visible_tiles():
        top_left = t.mapTo(view, t.rect().topLeft())
        cells.append({
            "label": t.cell.label if t.cell else "",
            "caption": t.caption,
            "problem": t.problem,
            "rect": [round(v * ratio) for v in (top_left.x(), top_left.y(), t.width(),
                                                  t.height())],
            "anchor": t.vp.anchor,
        })
    return cells
