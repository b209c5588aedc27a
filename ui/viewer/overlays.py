"""Drawing on top of an image: AI heatmap and marks, measurements, labels."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

from engine.display.viewport import Viewport
from ui.viewer.qimage import argb_image

HEAT_FLOOR = 0.1  # heat below this is not drawn at all
MARK_COLOUR = QColor(255, 200, 0)
MEASURE_COLOUR = QColor(0, 220, 255)
LABEL_PLATE = QColor(0, 0, 0, 190)


def heat_image(heat: np.ndarray, opacity: float, flip_h: bool, flip_v: bool) -> QImage:
    """Heatmap (0..1) as a premultiplied ARGB image: yellow to red, clear below the floor."""
    h = np.clip(heat.astype(np.float32), 0.0, 1.0)
    if flip_h:
        h = h[:, ::-1]
    if flip_v:
        h = h[::-1, :]
    alpha = np.where(h >= HEAT_FLOOR, (0.25 + 0.75 * h) * opacity, 0.0)
    red = np.full_like(h, 255.0)
    green = 255.0 * (1.0 - h)
    out = np.empty((*h.shape, 4), np.uint8)
    out[..., 0] = 0  # blue (little-endian ARGB32 is B, G, R, A in memory)
    out[..., 1] = np.rint(green * alpha)
    out[..., 2] = np.rint(red * alpha)
    out[..., 3] = np.rint(255.0 * alpha)
    return argb_image(out)


def draw_heat(p: QPainter, vp: Viewport, scale: float, heat: np.ndarray, stride: float,
              opacity: float) -> None:
    img = heat_image(heat, opacity, vp.flip_h, vp.flip_v)
    cols, rows = heat.shape[1] * stride, heat.shape[0] * stride
    x0, y0 = vp.to_screen(0, 0, scale)
    x1, y1 = vp.to_screen(cols, rows, scale)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
    p.drawImage(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)), img)


def draw_marks(p: QPainter, vp: Viewport, scale: float, marks: list) -> None:
    """Each mark: its box, a ring at its peak and its score."""
    pen = QPen(MARK_COLOUR, 2)
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.setFont(QFont("Sans", 10, QFont.Weight.Bold))
    for m in marks:
        bx0, by0 = vp.to_screen(m.box[0], m.box[1], scale)
        bx1, by1 = vp.to_screen(m.box[2], m.box[3], scale)
        box = QRectF(min(bx0, bx1), min(by0, by1), abs(bx1 - bx0), abs(by1 - by0))
        p.setPen(QPen(MARK_COLOUR, 1, Qt.PenStyle.DashLine))
        p.drawRect(box)
        cx, cy = vp.to_screen(m.x, m.y, scale)
        p.setPen(pen)
        p.drawEllipse(QPointF(cx, cy), 9.0, 9.0)
        draw_label(p, QPointF(box.right() + 4, box.top()), f"{m.score:.2f}")


def draw_label(p: QPainter, at: QPointF, text: str) -> None:
    """A mark's score in its colour on a dark plate: readable on bright tissue too."""
    metrics = p.fontMetrics()
    plate = QRectF(at.x(), at.y(), metrics.horizontalAdvance(text) + 8, metrics.height() + 2)
    p.save()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(LABEL_PLATE)
    p.drawRoundedRect(plate, 3.0, 3.0)
    p.setPen(MARK_COLOUR)
    p.drawText(plate, Qt.AlignmentFlag.AlignCenter, text)
    p.restore()


FINDING_COLOUR = QColor(120, 255, 120)


def draw_findings(p: QPainter, vp: Viewport, scale: float,
                  points: list[tuple[float, float, str]]) -> None:
    """The reader's findings placed on this image: a cross and the finding's label."""
    p.save()
    p.setPen(QPen(FINDING_COLOUR, 2))
    p.setFont(QFont("Sans", 10, QFont.Weight.Bold))
    for x, y, label in points:
        sx, sy = vp.to_screen(x, y, scale)
        p.drawLine(QPointF(sx - 10, sy), QPointF(sx + 10, sy))
        p.drawLine(QPointF(sx, sy - 10), QPointF(sx, sy + 10))
        p.drawText(QPointF(sx + 12, sy - 6), label)
    p.restore()


def draw_measure(p: QPainter, vp: Viewport, scale: float, a: tuple[float, float],
                 b: tuple[float, float], text: str) -> None:
    ax, ay = vp.to_screen(*a, scale)
    bx, by = vp.to_screen(*b, scale)
    p.setPen(QPen(MEASURE_COLOUR, 2))
    p.drawLine(QPointF(ax, ay), QPointF(bx, by))
    p.setFont(QFont("Sans", 11, QFont.Weight.Bold))
    p.drawText(QPointF(bx + 6, by - 6), text)


SCALE_BAR_MM = (1, 2, 5, 10, 20, 50, 100)


def scale_bar_mm(px_per_mm: float, longest_px: float = 160.0) -> int | None:
    """The longest round length in mm whose bar fits in `longest_px` screen pixels."""
    fits = [mm for mm in SCALE_BAR_MM if mm * px_per_mm <= longest_px]
    return fits[-1] if fits and px_per_mm > 0 else None


def draw_scale_bar(p: QPainter, rect: QRectF, px_per_mm: float, right: bool = False) -> None:
    """A bar of a round number of millimetres at the bottom, on the side away from
    the chest wall, with its length written above it."""
    mm = scale_bar_mm(px_per_mm)
    if mm is None:
        return
    length = mm * px_per_mm
    y = rect.bottom() - 14
    x0 = rect.right() - 16 - length if right else rect.left() + 16
    p.save()
    for colour, dy in ((QColor(0, 0, 0), 1), (QColor(230, 230, 230), 0)):
        p.setPen(QPen(colour, 2))
        p.drawLine(QPointF(x0, y + dy), QPointF(x0 + length, y + dy))
        p.drawLine(QPointF(x0, y - 4 + dy), QPointF(x0, y + 4 + dy))
        p.drawLine(QPointF(x0 + length, y - 4 + dy), QPointF(x0 + length, y + 4 + dy))
    p.setFont(QFont("Sans", 9))
    p.drawText(QPointF(x0, y - 6), f"{mm} mm")
    p.restore()


def draw_corner_text(p: QPainter, rect: QRectF, lines: list[str], right: bool = False) -> None:
    p.setFont(QFont("Sans", 10))
    flags = Qt.AlignmentFlag.AlignTop | (
        Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft
    )
    shadow = rect.translated(1, 1)
    p.setPen(QColor(0, 0, 0))
    p.drawText(shadow.adjusted(6, 4, -6, -4), flags, "\n".join(lines))
    p.setPen(QColor(230, 230, 230))
    p.drawText(rect.adjusted(6, 4, -6, -4), flags, "\n".join(lines))
