"""One cell of the hanging: an image with window/level, zoom, pan, a
magnifier, a distance measurement and the AI overlays.

Mouse: left drag = window/level (or the measuring tool), right or middle
drag = pan, wheel = zoom about the pointer.  The widget paints only what is
on screen, from the pyramid level that still gives a stored pixel per device
pixel; at 1:1 and above that is the full-resolution image, never a reduced
one (a preview is labelled as such until the full image arrives).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from engine.ai.results import HEATMAP_STRIDE_PX
from engine.display.hanging import Cell, tissue_flip
from engine.display.images import ViewImage
from engine.display.viewport import FIT, PIXEL, TRUE_SIZE, Viewport, distance_mm
from engine.display.voi import Window, apply_lut, display_lut, drag
from engine.imaging.chest_wall_side import tissue_on_left
from ui.viewer.overlays import (
    draw_corner_text,
    draw_findings,
    draw_heat,
    draw_marks,
    draw_measure,
    draw_scale_bar,
)
from ui.viewer.qimage import grey_image

MAGNIFIER_RADIUS = 110
MAGNIFIER_FACTOR = 2.0


class ImageTile(QWidget):
    """Signals carry what a linked neighbour should copy."""

    viewport_changed = Signal(object)  # the new Viewport
    activated = Signal()  # double click: show this view alone
    point_placed = Signal(str, float, float)  # finding tool: image UID, stored column, row

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.cell: Cell | None = None
        self.caption = ""  # shown under the label: which study, of when
        self.view: ViewImage | None = None
        self.problem: str | None = None  # why the image cannot be shown
        # Shadows QWidget.window(), which MammoDesk never calls on a tile.
        self.window: Window | None = None  # type: ignore[assignment]
        self.preset_index = 0
        self.invert = False
        self.vp = Viewport(1, 1, 1, 1)
        self.tool = "wl"  # "wl" | "measure"
        self.magnifier = False
        self.marks: list = []
        self.heat: np.ndarray | None = None
        self.heat_stride = float(HEATMAP_STRIDE_PX)
        self.show_marks = True
        self.show_heat = False
        self.heat_opacity = 0.5
        self.ai_note = ""
        self.measure: tuple[tuple[float, float], tuple[float, float]] | None = None
        self.findings: list[tuple[float, float, str]] = []  # the read's points here: x, y, label
        self.px_per_mm: float | None = None  # screen; None asks the screen
        self._lut: tuple[tuple, np.ndarray] | None = None
        self._press: tuple[QPointF, Qt.MouseButton, Window | None, Viewport] | None = None
        self._mouse: QPointF | None = None

    # -- content ---------------------------------------------------------------

    def set_cell(self, cell: Cell | None, caption: str = "") -> None:
        """`caption`: a line under the cell's label, e.g. the prior's study date."""
        self.cell = cell
        self.caption = caption
        self.view, self.problem, self.window, self.measure = None, None, None, None
        self.marks, self.heat = [], None
        self.vp = Viewport(max(self.width(), 1), max(self.height(), 1), 1, 1)
        if cell is not None and cell.placement is not None:
            pl = cell.placement
            self.vp = replace(self.vp, flip_h=pl.flip_h, flip_v=pl.flip_v, anchor=pl.anchor)
        self.update()

    def set_view(self, view: ViewImage) -> None:
        """The image arrived (or gained resolution)."""
        first = self.view is None
        self.view = view
        self.problem = None
        if first:
            self.vp = replace(self.vp, columns=view.columns, rows=view.rows)
            pl = self.cell.placement if self.cell else None
            if pl is not None and not pl.orientation_known:
                self.vp = replace(self.vp, flip_h=tissue_flip(pl.anchor, _tissue_on_left(view)))
            if view.presets:
                self.preset_index = 0
                self.window = view.presets[0].window
        self.update()

    def set_problem(self, reason: str) -> None:
        self.problem = reason
        self.update()

    def set_ai(self, marks: list, heat: np.ndarray | None, stride: float, note: str) -> None:
        self.marks, self.heat, self.heat_stride, self.ai_note = list(marks), heat, stride, note
        self.update()

    # -- state changes (keyboard and linking call these) ------------------------

    def set_mode(self, mode: str) -> None:
        self.vp = self.vp.with_mode(mode)
        self._changed()

    def apply_viewport(self, other: Viewport) -> None:
        """Copy a linked neighbour's zoom and pan (mirrored if its anchor differs)."""
        dx, dy = other.pan
        if {other.anchor, self.vp.anchor} == {"left", "right"}:
            dx = -dx
        self.vp = replace(self.vp, mode=other.mode, scale=other.scale, pan=(dx, dy))
        self.update()

    def reset(self) -> None:
        self.vp = self.vp.reset()
        self.invert, self.measure = False, None
        if self.view and self.view.presets:
            self.preset_index, self.window = 0, self.view.presets[0].window
        self._changed()

    def next_preset(self) -> None:
        if self.view and self.view.presets:
            self.preset_index = (self.preset_index + 1) % len(self.view.presets)
            self.window = self.view.presets[self.preset_index].window
            self.update()

    def toggle_invert(self) -> None:
        self.invert = not self.invert
        self.update()

    def zoom_by(self, factor: float) -> None:
        c = QPointF(self.width() / 2, self.height() / 2)
        self.vp = self.vp.zoom_about(factor, c.x(), c.y(), self.scale())
        self._changed()

    def _changed(self) -> None:
        self.update()
        self.viewport_changed.emit(self.vp)

    # -- geometry --------------------------------------------------------------

    def screen_px_per_mm(self) -> float:
        if self.px_per_mm:
            return self.px_per_mm
        screen = self.screen() or QGuiApplication.primaryScreen()
        dpi = screen.physicalDotsPerInch() if screen else 96.0
        return dpi / 25.4 / max(self.devicePixelRatioF(), 1e-6)

    def scale(self) -> float:
        spacing = self.view.spacing_mm[1] if self.view and self.view.spacing_mm else None
        return self.vp.effective_scale(self.devicePixelRatioF(), self.screen_px_per_mm(), spacing)

    def resizeEvent(self, event) -> None:
        self.vp = replace(self.vp, width=max(self.width(), 1), height=max(self.height(), 1))
        super().resizeEvent(event)

    def lut(self) -> np.ndarray | None:
        if self.view is None or self.window is None:
            return None
        key = (self.window, self.invert, self.view.dtype.str)
        if self._lut is None or self._lut[0] != key:
            self._lut = (key, display_lut(self.view.header, self.window, self.view.dtype,
                                          self.invert))
        return self._lut[1]

    def grey_at(self, x: float, y: float) -> int | None:
        """The screen grey level the viewer shows for the stored pixel under (x, y)."""
        value = self.value_at(x, y)
        return None if value is None else value[1]

    def value_at(self, x: float, y: float) -> tuple[int, int, bool] | None:
        """(stored value, screen grey level, whether from a reduced preview) of the
        pixel under (x, y); None off the image."""
        lut = self.lut()
        if lut is None or self.view is None:
            return None
        col, row = self.vp.to_stored(x, y, self.scale())
        if col < 0 or row < 0:
            return None
        level = self.view.finest_level()
        arr = self.view.levels[level]
        r, c = int(row) >> level, int(col) >> level
        if not (0 <= r < arr.shape[0] and 0 <= c < arr.shape[1]):
            return None
        stored = np.asarray(arr[r : r + 1, c : c + 1])
        return int(stored[0, 0]), int(apply_lut(lut, stored)[0, 0]), level > 0

    # -- painting --------------------------------------------------------------

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0))
        title = self.title_lines()
        if self.problem:
            draw_corner_text(p, QRectF(self.rect()), title)
            p.setPen(QColor(255, 140, 120))
            p.drawText(QRectF(self.rect()).adjusted(20, 20, -20, -20),
                       Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       f"cannot show this image: {self.problem}")
            p.end()
            return
        if self.view is None:
            text = title + ([] if self.cell is None or self.cell.placement is None
                            else ["loading..."])
            draw_corner_text(p, QRectF(self.rect()), text)
            p.end()
            return
        scale = self.scale()
        level = self._paint_image(p, scale)
        if self.show_heat and self.heat is not None:
            draw_heat(p, self.vp, scale, self.heat, self.heat_stride, self.heat_opacity)
        if self.show_marks and self.marks:
            draw_marks(p, self.vp, scale, self.marks)
        if self.findings:
            draw_findings(p, self.vp, scale, self.findings)
        if self.measure:
            a, b = self.measure
            mm = distance_mm(a, b, self.view.spacing_mm)
            caption = f"{mm:.1f} mm" if mm is not None else "no pixel spacing"
            draw_measure(p, self.vp, scale, a, b, caption)
        if self.magnifier and self._mouse is not None:
            self._paint_magnifier(p, scale)
        draw_corner_text(p, QRectF(self.rect()), self._info_lines(scale, level),
                         right=self.vp.anchor == "left")
        if self.view.spacing_mm:
            draw_scale_bar(p, QRectF(self.rect()), scale / self.view.spacing_mm[1],
                           right=self.vp.anchor == "left")
        p.end()

    def title_lines(self) -> list[str]:
        """The cell's label and its caption: the first lines drawn on the tile."""
        label = self.cell.label if self.cell else self.view.key[-8:] if self.view else ""
        return [label] + ([self.caption] if self.caption else [])

    def _info_lines(self, scale: float, level: int) -> list[str]:
        w = self.window
        lines = self.title_lines()
        if w is not None:
            inv = "  inverted" if self.invert else ""
            lines.append(f"W {w.width:.0f}  L {w.center:.0f}{inv}")
        zoom = {FIT: "fit", PIXEL: "1:1", TRUE_SIZE: "true size"}.get(self.vp.mode,
                                                                      f"{scale * 100:.0f}%")
        lines.append(zoom + ("  preview" if level > 0 and scale * self.devicePixelRatioF() *
                             (1 << level) > 1.0 + 1e-6 else ""))
        if (self.show_marks and self.marks) or (self.show_heat and self.heat is not None):
            lines.append(self.ai_note)
        value = self.value_at(self._mouse.x(), self._mouse.y()) if self._mouse else None
        if value is not None:
            stored, grey, preview = value
            lines.append(f"value {stored} -> grey {grey}" + (" (preview)" if preview else ""))
        return lines

    def _paint_image(self, p: QPainter, scale: float) -> int:
        view, lut = self.view, self.lut()
        vis = self.vp.visible(scale)
        if view is None or lut is None or vis is None:
            return 0
        dpr = self.devicePixelRatioF()
        level = view.level_for(scale * dpr)
        arr, k = view.levels[level], 1 << level
        c0, r0, c1, r1 = vis
        a0, b0 = c0 // k, r0 // k
        a1, b1 = min(arr.shape[1], -(-c1 // k)), min(arr.shape[0], -(-r1 // k))
        grey = apply_lut(lut, np.asarray(arr[b0:b1, a0:a1]))
        if self.vp.flip_h:
            grey = grey[:, ::-1]
        if self.vp.flip_v:
            grey = grey[::-1, :]
        img = grey_image(grey)
        x0, y0 = self.vp.to_screen(a0 * k, b0 * k, scale)
        x1, y1 = self.vp.to_screen(min(a1 * k, view.columns), min(b1 * k, view.rows), scale)
        target = QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        # Enlarged pixels stay square (nearest); reduced ones are averaged.
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale * dpr * k < 1.0)
        p.drawImage(target, img)
        return level

    def _paint_magnifier(self, p: QPainter, scale: float) -> None:
        view, lut = self.view, self.lut()
        if view is None or lut is None or self._mouse is None:
            return
        m = self._mouse
        zoom = max(scale * MAGNIFIER_FACTOR, 1.0 / self.devicePixelRatioF())
        half = MAGNIFIER_RADIUS / zoom
        col, row = self.vp.to_stored(m.x(), m.y(), scale)
        level = view.level_for(zoom * self.devicePixelRatioF())
        arr, k = view.levels[level], 1 << level
        c0, r0 = max(0, int(col - half)), max(0, int(row - half))
        c1 = min(view.columns, math.ceil(col + half))
        r1 = min(view.rows, math.ceil(row + half))
        if c1 <= c0 or r1 <= r0:
            return
        grey = apply_lut(lut, np.asarray(arr[r0 // k : -(-r1 // k), c0 // k : -(-c1 // k)]))
        if self.vp.flip_h:
            grey = grey[:, ::-1]
        if self.vp.flip_v:
            grey = grey[::-1, :]
        img = grey_image(grey)
        lens = replace(self.vp, mode="free", scale=zoom, pan=(0.0, 0.0))
        # Place the lens so the stored point under the pointer stays under it.
        sx, sy = lens.to_screen(col, row, zoom)
        lens = lens.panned(m.x() - sx, m.y() - sy)
        x0, y0 = lens.to_screen(c0, r0, zoom)
        x1, y1 = lens.to_screen(c1, r1, zoom)
        clip = QPainterPath()
        clip.addEllipse(m, MAGNIFIER_RADIUS, MAGNIFIER_RADIUS)
        p.save()
        p.setClipPath(clip)
        p.fillPath(clip, QColor(0, 0, 0))
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)), img)
        if self.show_marks and self.marks:  # the lens keeps the AI marks under it in view
            draw_marks(p, lens, zoom, self.marks)
        p.restore()
        p.setPen(QPen(QColor(200, 200, 200), 2))
        p.drawEllipse(m, MAGNIFIER_RADIUS, MAGNIFIER_RADIUS)

    # -- mouse -----------------------------------------------------------------

    def mousePressEvent(self, e) -> None:
        self._press = (e.position(), e.button(), self.window, self.vp)
        if e.button() == Qt.MouseButton.LeftButton and self.tool == "measure" and self.view:
            a = self.vp.to_stored(e.position().x(), e.position().y(), self.scale())
            self.measure = (a, a)
        elif e.button() == Qt.MouseButton.LeftButton and self.tool == "finding" and self.view:
            x, y = self.vp.to_stored(e.position().x(), e.position().y(), self.scale())
            if 0 <= x < self.view.columns and 0 <= y < self.view.rows:
                self._press = None  # a placed point, not a window drag
                self.point_placed.emit(self.view.key, float(x), float(y))
        e.accept()

    def mouseMoveEvent(self, e) -> None:
        self._mouse = e.position()
        if self._press is None:
            self.update()  # the value under the pointer, the magnifier
            return
        start, button, window0, vp0 = self._press
        dx, dy = e.position().x() - start.x(), e.position().y() - start.y()
        if button == Qt.MouseButton.LeftButton and self.tool == "measure" and self.measure:
            b = self.vp.to_stored(e.position().x(), e.position().y(), self.scale())
            self.measure = (self.measure[0], b)
            self.update()
        elif button == Qt.MouseButton.LeftButton and window0 is not None:
            self.window = drag(window0, dx, dy, self._span())
            self.update()
        elif button in (Qt.MouseButton.RightButton, Qt.MouseButton.MiddleButton):
            self.vp = replace(vp0.panned(dx, dy), width=self.vp.width, height=self.vp.height)
            self._changed()

    def mouseReleaseEvent(self, e) -> None:
        self._press = None
        e.accept()

    def mouseDoubleClickEvent(self, e) -> None:
        self.activated.emit()
        e.accept()

    def leaveEvent(self, _e) -> None:
        self._mouse = None
        if self.magnifier:
            self.update()

    def wheelEvent(self, e) -> None:
        steps = e.angleDelta().y() / 120.0
        if steps and self.view is not None:
            pos = e.position()
            self.vp = self.vp.zoom_about(1.25**steps, pos.x(), pos.y(), self.scale())
            self._changed()
        e.accept()

    def _span(self) -> float:
        """The range window/level moves over: the file's stored bit depth."""
        bits = int(self.view.header.get("BitsStored", 12) or 12) if self.view else 12
        if self.window is not None and self.window.lut_index is not None and self.view:
            seq = self.view.header.get("VOILUTSequence")
            bits = int(seq[self.window.lut_index].LUTDescriptor[2])
        return float(2**bits)


def _tissue_on_left(view: ViewImage) -> bool:
    """For files without orientation: which side has more tissue (the chest wall),
    judged on the coarsest level's stored values."""
    photometric = str(view.header.get("PhotometricInterpretation", "")).upper()
    return tissue_on_left(view.levels[max(view.levels)], photometric == "MONOCHROME1")
