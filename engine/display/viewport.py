"""Where an image sits in its cell: zoom, pan and mirroring as plain maths,
so the widget only paints.

Coordinates: *stored* (column, row) of the full-size image; *oriented* the
same after the cell's mirroring; *screen* logical pixels of the cell.
`scale` is screen pixels per stored pixel.  At rest the image is anchored to
its chest-wall edge (the cell's `anchor`) and centred vertically; `pan` moves
it from there, in screen pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

FIT, PIXEL, TRUE_SIZE, FREE = "fit", "1:1", "true size", "free"
MIN_SCALE, MAX_SCALE = 0.01, 64.0


@dataclass(frozen=True)
class Viewport:
    width: float  # cell size, screen pixels
    height: float
    columns: int  # image size, stored pixels
    rows: int
    flip_h: bool = False
    flip_v: bool = False
    anchor: str = "left"  # "left" | "right" | "centre"
    mode: str = FIT
    scale: float = 1.0  # used when mode is FREE; other modes compute it
    pan: tuple[float, float] = (0.0, 0.0)

    # -- scale ---------------------------------------------------------------

    def fit_scale(self) -> float:
        if self.columns <= 0 or self.rows <= 0:
            return 1.0
        return min(self.width / self.columns, self.height / self.rows)

    def effective_scale(self, device_ratio: float = 1.0, px_per_mm: float | None = None,
                        spacing_mm: float | None = None) -> float:
        """Screen pixels per stored pixel for the current mode.  1:1 is one
        stored pixel per *device* pixel; true size needs the screen's logical
        pixels per millimetre and the image's pixel spacing."""
        if self.mode == FIT:
            return self.fit_scale()
        if self.mode == PIXEL:
            return 1.0 / max(device_ratio, 1e-6)
        if self.mode == TRUE_SIZE and px_per_mm and spacing_mm:
            return spacing_mm * px_per_mm
        return self.scale

    # -- placement -------------------------------------------------------------

    def origin(self, scale: float) -> tuple[float, float]:
        """Screen position of the oriented image's top-left corner."""
        w, h = self.columns * scale, self.rows * scale
        if self.anchor == "right":
            x = self.width - w
        elif self.anchor == "left":
            x = 0.0
        else:
            x = (self.width - w) / 2
        y = (self.height - h) / 2
        return x + self.pan[0], y + self.pan[1]

    def to_screen(self, col: float, row: float, scale: float) -> tuple[float, float]:
        u = self.columns - col if self.flip_h else col
        v = self.rows - row if self.flip_v else row
        ox, oy = self.origin(scale)
        return ox + u * scale, oy + v * scale

    def to_stored(self, x: float, y: float, scale: float) -> tuple[float, float]:
        ox, oy = self.origin(scale)
        u, v = (x - ox) / scale, (y - oy) / scale
        col = self.columns - u if self.flip_h else u
        row = self.rows - v if self.flip_v else v
        return col, row

    def visible(self, scale: float) -> tuple[int, int, int, int] | None:
        """Stored-pixel rectangle (c0, r0, c1, r1) on screen, or None."""
        corners = [self.to_stored(x, y, scale) for x in (0, self.width) for y in (0, self.height)]
        c0 = max(0, math.floor(min(c for c, _ in corners)))
        c1 = min(self.columns, math.ceil(max(c for c, _ in corners)))
        r0 = max(0, math.floor(min(r for _, r in corners)))
        r1 = min(self.rows, math.ceil(max(r for _, r in corners)))
        if c1 <= c0 or r1 <= r0:
            return None
        return c0, r0, c1, r1

    # -- changes ---------------------------------------------------------------

    def zoom_about(self, factor: float, x: float, y: float, scale: float) -> Viewport:
        """Zoom by `factor` keeping the stored point under (x, y) in place."""
        new = min(MAX_SCALE, max(MIN_SCALE, scale * factor))
        col, row = self.to_stored(x, y, scale)
        moved = replace(self, mode=FREE, scale=new)
        sx, sy = moved.to_screen(col, row, new)
        return replace(moved, pan=(moved.pan[0] + x - sx, moved.pan[1] + y - sy))

    def panned(self, dx: float, dy: float) -> Viewport:
        return replace(self, pan=(self.pan[0] + dx, self.pan[1] + dy))

    def with_mode(self, mode: str) -> Viewport:
        return replace(self, mode=mode, pan=(0.0, 0.0))

    def reset(self) -> Viewport:
        return replace(self, mode=FIT, scale=1.0, pan=(0.0, 0.0))


def distance_mm(a: tuple[float, float], b: tuple[float, float],
                spacing: tuple[float, float] | None) -> float | None:
    """Length between two stored points in mm ((row, column) spacing)."""
    if spacing is None:
        return None
    dr = (a[1] - b[1]) * spacing[0]
    dc = (a[0] - b[0]) * spacing[1]
    return math.hypot(dr, dc)
