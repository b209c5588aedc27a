"""Lesion bounding box and contrast-to-noise ratio on the written pixels.

CNR = (mean over lesion pixels - mean over a surrounding ring) / ring std.
Lesion pixels are where the rendered lesion signal is at least half its peak
(the core of a mass, the centres of calcification specks).  The ring is the
breast tissue around the bounding box (gap 1 mm, width max(3 mm, half the
box size)).  Evaluation reports detection by this CNR, so it must be
measured on exactly the values that are written (MONOCHROME2 sense).
"""

from __future__ import annotations

import numpy as np


def lesion_cnr(
    pixels: np.ndarray,
    mask: np.ndarray,
    signal: np.ndarray,
    origin: tuple[int, int],
    px: float,
    calcs: bool = False,
) -> tuple[tuple[int, int, int, int] | None, float | None]:
    """Return ((x0, y0, x1, y1) end-exclusive, CNR) in canonical coordinates."""
    rows, cols = pixels.shape
    peak = float(signal.max())
    if peak <= 0:
        return None, None
    ys, xs = np.nonzero(signal >= 0.1 * peak)
    pad = round(1.0 / px) if calcs else 1
    x0 = max(0, origin[0] + int(xs.min()) - pad)
    x1 = min(cols, origin[0] + int(xs.max()) + 1 + pad)
    y0 = max(0, origin[1] + int(ys.min()) - pad)
    y1 = min(rows, origin[1] + int(ys.max()) + 1 + pad)
    if x0 >= x1 or y0 >= y1:
        return None, None

    ly, lx = np.nonzero(signal >= 0.5 * peak)
    ly = ly + origin[1]
    lx = lx + origin[0]
    ok = (ly >= 0) & (ly < rows) & (lx >= 0) & (lx < cols)
    lesion_vals = pixels[ly[ok], lx[ok]].astype(np.float64)

    gap = round(1.0 / px)
    width = max(round(3.0 / px), (max(x1 - x0, y1 - y0)) // 2)
    ox0, oy0 = max(0, x0 - gap - width), max(0, y0 - gap - width)
    ox1, oy1 = min(cols, x1 + gap + width), min(rows, y1 + gap + width)
    ring = mask[oy0:oy1, ox0:ox1].copy()
    ring[
        max(0, y0 - gap) - oy0 : min(rows, y1 + gap) - oy0,
        max(0, x0 - gap) - ox0 : min(cols, x1 + gap) - ox0,
    ] = False
    ring_vals = pixels[oy0:oy1, ox0:ox1][ring].astype(np.float64)
    if lesion_vals.size == 0 or ring_vals.size < 16:
        return (x0, y0, x1, y1), None
    sd = float(ring_vals.std())
    cnr = (float(lesion_vals.mean()) - float(ring_vals.mean())) / max(sd, 1e-6)
    return (x0, y0, x1, y1), round(cnr, 3)
