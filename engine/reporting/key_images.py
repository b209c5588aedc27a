"""Key images of the reader's findings for the report: which stored pixels
to crop around a finding's point, where its mark falls in the crop as
shown, and the crop's caption.  Pure geometry (numpy, no Qt); the window
draws the pixels (ui/report.py).

A crop covers about KEY_IMAGE_MM of breast on each side, measured with the
image's pixel spacing (row and column spacing apart, so a crop of an image
with non-square pixels is still square in millimetres).  Without a spacing
the image is taken to span a detector's short side, FALLBACK_FIELD_MM, and
the crop says it is not to scale.  The crop keeps its size at the image's
edges by sliding inwards, so the point always lies inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from engine.library.reads import Finding
from engine.reading.finding_text import describe_finding

KEY_IMAGE_MM = 40.0  # breast shown on each side of a key image
SCALE_BAR_MM = 10.0
FALLBACK_FIELD_MM = 240.0  # a detector's short side, when the file gives no spacing
NO_POSITION = "(no image position)"


@dataclass(frozen=True)
class CropBox:
    """Stored pixels [c0, c1) x [r0, r1) of the full-size image."""

    c0: int
    r0: int
    c1: int
    r1: int

    @property
    def columns(self) -> int:
        return self.c1 - self.c0

    @property
    def rows(self) -> int:
        return self.r1 - self.r0

    def scaled_down(self, k: int) -> CropBox:
        """The same region on a pyramid level reduced k times on each side."""
        return CropBox(self.c0 // k, self.r0 // k, -(-self.c1 // k), -(-self.r1 // k))


def pixel_mm(spacing_mm: tuple[float, float] | None, columns: int,
             rows: int) -> tuple[float, float, bool]:
    """(row mm, column mm, whether measured) per stored pixel.  Without a
    usable spacing: square pixels spanning FALLBACK_FIELD_MM over the
    image's shorter side."""
    if spacing_mm is not None and len(spacing_mm) == 2:
        row_mm, col_mm = float(spacing_mm[0]), float(spacing_mm[1])
        if all(math.isfinite(v) and v > 0 for v in (row_mm, col_mm)):
            return row_mm, col_mm, True
    guess = FALLBACK_FIELD_MM / max(1, min(columns, rows))
    return guess, guess, False


def _span(centre: float, want: int, size: int) -> tuple[int, int]:
    """[start, end) of `want` pixels about `centre`, slid to lie within [0, size)."""
    want = max(1, min(want, size))
    start = math.floor(centre - want / 2.0)
    start = min(max(start, 0), size - want)
    return start, start + want


def crop_box(x: float, y: float, columns: int, rows: int,
             spacing_mm: tuple[float, float] | None,
             side_mm: float = KEY_IMAGE_MM) -> CropBox:
    """The stored-pixel box of about `side_mm` of breast around the point
    (x column, y row), clamped to the image with the point inside."""
    if columns <= 0 or rows <= 0:
        raise ValueError("an image has at least one row and one column")
    row_mm, col_mm, _known = pixel_mm(spacing_mm, columns, rows)
    x = min(max(float(x), 0.0), columns - 1e-6)
    y = min(max(float(y), 0.0), rows - 1e-6)
    c0, c1 = _span(x, round(side_mm / col_mm), columns)
    r0, r1 = _span(y, round(side_mm / row_mm), rows)
    return CropBox(c0, r0, c1, r1)


def mark_in_crop(x: float, y: float, box: CropBox, flip_h: bool = False,
                 flip_v: bool = False) -> tuple[float, float]:
    """Where the point lies in the crop as shown (mirrored as its tile is),
    in crop pixels from the shown crop's top-left corner."""
    u, v = float(x) - box.c0, float(y) - box.r0
    if flip_h:
        u = box.columns - u
    if flip_v:
        v = box.rows - v
    return u, v


def oriented(pixels: np.ndarray, flip_h: bool, flip_v: bool) -> np.ndarray:
    """The crop's pixels mirrored as the tile shows the image."""
    if flip_h:
        pixels = pixels[:, ::-1]
    if flip_v:
        pixels = pixels[::-1, :]
    return np.ascontiguousarray(pixels)


def shown_size_mm(box: CropBox, spacing_mm: tuple[float, float] | None, columns: int,
                  rows: int) -> tuple[float, float]:
    """(width, height) in millimetres of breast the crop covers."""
    row_mm, col_mm, _known = pixel_mm(spacing_mm, columns, rows)
    return box.columns * col_mm, box.rows * row_mm


def caption(number: int, finding: Finding, view_label: str = "",
            to_scale: bool = True) -> str:
    """"Finding 1 (RCC): right mass, oval, circumscribed, 12 mm, 10 o'clock, ..."."""
    where = f" ({view_label})" if view_label else ""
    text = f"Finding {number}{where}: {describe_finding(finding)}"
    if finding.point is None:
        return f"{text} {NO_POSITION}"
    if not to_scale:
        text += " (no pixel spacing in the file: not to scale)"
    return text
