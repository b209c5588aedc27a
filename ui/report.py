"""The reading report as PDF (Qt's own PDF writer): the read, the AI result
with its notice, the hanging as shown, and a key image of each finding the
reader placed on an image: about 40 mm of breast around the point, windowed
and mirrored as its tile shows it, with the finding's mark, a 10 mm scale
bar and the finding in BI-RADS wording.  The crop geometry is headless
(engine/reporting/key_images.py)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QMarginsF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from engine.display.voi import apply_lut, display_lut
from engine.errors import MammoDeskError
from engine.library.reads import Finding, Read
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.reporting.key_images import (
    SCALE_BAR_MM,
    CropBox,
    caption,
    crop_box,
    mark_in_crop,
    oriented,
    pixel_mm,
    shown_size_mm,
)
from engine.reporting.report_text import report_lines
from ui.viewer.overlays import FINDING_COLOUR
from ui.viewer.qimage import grey_image

if TYPE_CHECKING:
    from engine.display.images import ViewImage
    from engine.reading.open_study import OpenedStudy
    from ui.reading_view import ReadingView

    # An image as shown: the image, its display LUT, mirrored left-right, up-down.
    _Source = tuple[ViewImage, np.ndarray, bool, bool]

DPI = 150
MM = DPI / 25.4  # page pixels per millimetre
CROP_MM = 80.0  # a key image's side on paper: 40 mm of breast at twice life size
GAP_MM = 8.0
FOOTER = 30.0  # page pixels kept for the notice at the foot of each page


@dataclass
class KeyCrop:
    """One finding's key image as drawn: which stored pixels, how they look."""

    number: int  # the finding's number in the read, as on the tiles
    finding: Finding
    caption: str
    box: CropBox | None = None  # None: no image position, or the image is unavailable
    pixels: np.ndarray | None = None  # uint8 grey, windowed and mirrored as on screen
    mark: tuple[float, float] = (0.0, 0.0)  # the point in `pixels` (column, row)
    size_mm: tuple[float, float] = (0.0, 0.0)  # breast covered (width, height)
    to_scale: bool = True
    page: int = 0  # where it was drawn (0-based page, page pixels)
    target: QRectF | None = None


def _the_read(view: ReadingView, study: OpenedStudy) -> Read:
    """The read the report prints: the saved one, else the form's draft."""
    main = study.read
    return (main.read if main is not None else None) or view.reading.read() or Read()


def _source(view: ReadingView, study: OpenedStudy, uid: str) -> _Source | None:
    """(ViewImage, display LUT, flip_h, flip_v) of the image as shown: its tile
    when one is on screen (its window, inversion and mirroring), else as a
    tile first shows it in the 2x2; None when the image cannot be had."""
    for tile in view.hanging.tile_for(uid):
        lut = tile.lut()
        if tile.view is not None and lut is not None:
            return tile.view, lut, tile.vp.flip_h, tile.vp.flip_v
    image = view.ctx.cache.get(uid)
    if image is None:
        item = study.files.get(uid)
        if item is None:
            return None
        from engine.display.images import load_view

        try:
            image = load_view(item.path, 0)
        except Exception:  # an unreadable file: the finding is listed without its crop
            return None
    if not image.presets:
        return None
    lut = display_lut(image.header, image.presets[0].window, image.dtype, False)
    flip_h, flip_v = _flips(study, image)
    return image, lut, flip_h, flip_v


def _flips(study: OpenedStudy, image: ViewImage) -> tuple[bool, bool]:
    """The mirroring the screening 2x2 gives this image."""
    from engine.display.hanging import hang, tissue_flip
    from engine.imaging.chest_wall_side import tissue_on_left

    for cell in hang(study.images, "2x2").cells():
        pl = cell.placement
        if pl is None or pl.image.key != image.key:
            continue
        if pl.orientation_known:
            return pl.flip_h, pl.flip_v
        mono1 = str(image.header.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1"
        return tissue_flip(pl.anchor, tissue_on_left(image.levels[max(image.levels)], mono1)), \
            pl.flip_v
    return False, False


def _label(study: OpenedStudy, uid: str) -> str:
    for image in study.images:
        if image.key == uid:
            return f"{image.laterality or ''}{image.view or ''}"
    return ""


def key_crops(view: ReadingView) -> list[KeyCrop]:
    """Every finding of the read, with its key image where it has a point."""
    out = []
    study = view.study
    if study is None:
        return []
    for number, f in enumerate(_the_read(view, study).findings, start=1):
        point = f.point
        if point is None:
            out.append(KeyCrop(number, f, caption(number, f)))
            continue
        uid = str(point.get("sop_uid", ""))
        label = _label(study, uid)
        source = _source(view, study, uid)
        if source is None:
            out.append(KeyCrop(number, f, caption(number, f, label) + " (image not available)"))
            continue
        image, lut, flip_h, flip_v = source
        x, y = float(point["x"]), float(point["y"])  # type: ignore[arg-type]
        box = crop_box(x, y, image.columns, image.rows, image.spacing_mm)
        level = image.finest_level()
        k = 1 << level
        part = box.scaled_down(k)
        stored = np.asarray(image.levels[level][part.r0:part.r1, part.c0:part.c1])
        pixels = oriented(apply_lut(lut, stored), flip_h, flip_v)
        u, v = mark_in_crop(x, y, box, flip_h, flip_v)
        known = pixel_mm(image.spacing_mm, image.columns, image.rows)[2]
        out.append(KeyCrop(number, f, caption(number, f, label, known), box, pixels,
                           (u / k, v / k),
                           shown_size_mm(box, image.spacing_mm, image.columns, image.rows),
                           known))
    return out


def _draw_crop(p: QPainter, crop: KeyCrop, target: QRectF) -> None:
    """The crop, its frame, the finding's mark and number, and the scale bar."""
    assert crop.pixels is not None
    h, w = crop.pixels.shape
    p.save()
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    p.drawImage(target, grey_image(crop.pixels))
    p.setPen(QPen(QColor(120, 120, 120), 1))
    p.drawRect(target)
    sx, sy = target.width() / max(w, 1), target.height() / max(h, 1)
    at = QPointF(target.left() + crop.mark[0] * sx, target.top() + crop.mark[1] * sy)
    p.setPen(QPen(FINDING_COLOUR, 3))
    arm = 4 * MM
    for dx, dy in ((1, 0), (0, 1)):  # a cross with a gap: the point itself stays visible
        for sign in (-1, 1):
            p.drawLine(QPointF(at.x() + sign * dx * arm, at.y() + sign * dy * arm),
                       QPointF(at.x() + sign * dx * arm / 3, at.y() + sign * dy * arm / 3))
    p.setFont(QFont("Sans", 10, QFont.Weight.Bold))
    p.drawText(QPointF(at.x() + arm + 4, at.y() - 6), str(crop.number))
    if crop.to_scale and crop.size_mm[0] > SCALE_BAR_MM:
        length = target.width() * SCALE_BAR_MM / crop.size_mm[0]
        x0, y0 = target.left() + 3 * MM, target.bottom() - 3 * MM
        for colour, d in ((QColor(0, 0, 0), 1.5), (QColor(240, 240, 240), 0.0)):
            p.setPen(QPen(colour, 3))
            p.drawLine(QPointF(x0 + d, y0 + d), QPointF(x0 + length + d, y0 + d))
            p.setFont(QFont("Sans", 8))
            p.drawText(QPointF(x0 + d, y0 - 6 + d), f"{SCALE_BAR_MM:g} mm")
    p.restore()


class _Pages:
    """The writer's pages, with the notice at the foot of each."""

    def __init__(self, p: QPainter, new_page: Callable[[], object], page: QRectF) -> None:
        self.p, self.new_page, self.rect = p, new_page, page
        self.index, self.y = 0, 0.0

    @property
    def bottom(self) -> float:
        return self.rect.height() - FOOTER

    def ensure(self, height: float) -> None:
        if self.y + height > self.bottom and self.y > 0:
            self.footer()
            self.new_page()
            self.index, self.y = self.index + 1, 0.0

    def text(self, text: str, size: int = 11, bold: bool = False,
             width: float | None = None, x: float = 0.0) -> float:
        self.p.setFont(QFont("Sans", size, QFont.Weight.Bold if bold else QFont.Weight.Normal))
        w = width if width is not None else self.rect.width()
        rect = self.p.boundingRect(QRectF(x, self.y, w, 10_000), Qt.TextFlag.TextWordWrap,
                                   text or " ")
        return rect.height()

    def write(self, text: str, size: int = 11, bold: bool = False) -> None:
        height = self.text(text, size, bold)
        self.ensure(height)
        self.p.drawText(QRectF(0, self.y, self.rect.width(), height),
                        Qt.TextFlag.TextWordWrap, text)
        self.y += height + 4

    def footer(self) -> None:
        self.p.setFont(QFont("Sans", 9))
        self.p.drawText(QRectF(0, self.rect.height() - FOOTER, self.rect.width(), FOOTER),
                        Qt.AlignmentFlag.AlignLeft, "AI output: " + NOT_FOR_CLINICAL_USE)


def _key_images(pages: _Pages, crops: list[KeyCrop]) -> None:
    """Two key images a row, each with its caption under it; findings without
    an image position listed after them."""
    if not crops:
        return
    p, width = pages.p, pages.rect.width()
    gap = GAP_MM * MM
    col = (width - gap) / 2
    side = min(col, CROP_MM * MM)
    shown = [c for c in crops if c.pixels is not None]
    pages.y += 10
    pages.write("Key images", 12, bold=True)
    for i in range(0, len(shown), 2):
        row = shown[i:i + 2]
        captions = [pages.text(c.caption, 9, width=col) for c in row]
        pages.ensure(side + max(captions) + gap)
        for j, crop in enumerate(row):
            x = j * (col + gap)
            wmm, hmm = crop.size_mm
            longest = max(wmm, hmm, 1e-6)
            target = QRectF(x, pages.y, side * wmm / longest, side * hmm / longest)
            _draw_crop(p, crop, target)
            crop.page, crop.target = pages.index, target
            p.setFont(QFont("Sans", 9))
            p.setPen(QColor(0, 0, 0))
            p.drawText(QRectF(x, pages.y + side + 4, col, captions[j]),
                       Qt.TextFlag.TextWordWrap, crop.caption)
        pages.y += side + max(captions) + gap
    for crop in crops:
        if crop.pixels is None:
            pages.write(crop.caption, 10)


def export_report(view: ReadingView, out: Path) -> list[KeyCrop]:
    """Write the report; the file appears complete or not at all.  Returns
    the findings' key images as drawn (where, from which stored pixels)."""
    out = Path(out)
    tmp = out.with_name(out.name + ".part")
    study = view.study
    if study is None:
        raise MammoDeskError("open a study to write its report")
    crops = key_crops(view)
    writer = QPdfWriter(str(tmp))
    writer.setResolution(DPI)
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait, QMarginsF(15, 15, 15, 15),
                                     QPageLayout.Unit.Millimeter))
    writer.setTitle("MammoDesk reading report")
    p = QPainter(writer)
    if not p.isActive():
        raise OSError(f"cannot write {out.name}")
    try:
        pages = _Pages(p, writer.newPage, QRectF(writer.pageLayout().paintRectPixels(DPI)))
        for text, bold in report_lines(study, _the_read(view, study)):
            pages.write(text, 12 if bold else 11, bold)
        w, page_h = pages.rect.width(), pages.rect.height()
        shot = view.hanging.grab()
        if not shot.isNull():
            room = pages.bottom - pages.y - 20
            if room < page_h * 0.35:
                pages.ensure(page_h)
                room = pages.bottom - 20
            size = shot.size().scaled(int(w), int(room), Qt.AspectRatioMode.KeepAspectRatio)
            p.drawPixmap(QRectF(0, pages.y + 10, size.width(), size.height()), shot,
                         QRectF(shot.rect()))
            pages.y += size.height() + 14
        _key_images(pages, crops)
        pages.footer()
    finally:
        p.end()
    os.replace(tmp, out)
    return crops
