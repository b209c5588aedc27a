"""From a view's heatmap (model grid) to marks and a heatmap registered to
the stored pixels."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from engine.ai.preprocess import Geometry
from engine.ai.results import HEATMAP_STRIDE_PX, Mark

MAX_MARKS = 4


def find_marks(
    heat: np.ndarray,
    geom: Geometry,
    stride: int,
    threshold: float,
    max_marks: int = MAX_MARKS,
) -> list[Mark]:
    """Local maxima of the heatmap at or above `threshold`, strongest first;
    each with the box of the region above half its peak."""
    peaks = (heat == ndimage.maximum_filter(heat, size=5)) & (heat >= threshold)
    rr, cc = np.nonzero(peaks)
    order = np.argsort(-heat[rr, cc], kind="stable")
    marks: list[Mark] = []
    taken = np.zeros(heat.shape, dtype=bool)
    for i in order:
        r, c = int(rr[i]), int(cc[i])
        if taken[r, c]:
            continue  # inside the region of a stronger mark
        peak = float(heat[r, c])
        labels, _ = ndimage.label(heat >= 0.5 * peak)
        region = labels == labels[r, c]
        taken |= region
        rows, cols = np.nonzero(region)
        u0, u1 = cols.min() * stride, (cols.max() + 1) * stride
        v0, v1 = rows.min() * stride, (rows.max() + 1) * stride
        xa, ya = geom.to_stored(u0, v0)
        xb, yb = geom.to_stored(u1, v1)
        x, y = geom.to_stored((c + 0.5) * stride, (r + 0.5) * stride)
        x0, y0, x1, y1 = (
            round(float(max(0.0, min(xa, xb))), 1),
            round(float(max(0.0, min(ya, yb))), 1),
            round(float(min(geom.columns, max(xa, xb))), 1),
            round(float(min(geom.rows, max(ya, yb))), 1),
        )
        marks.append(Mark(round(float(x), 1), round(float(y), 1), (x0, y0, x1, y1), round(peak, 4)))
        if len(marks) == max_marks:
            break
    return marks


def register_heatmap(
    heat: np.ndarray, geom: Geometry, stride: int, out_stride: int = HEATMAP_STRIDE_PX
) -> np.ndarray:
    """The heatmap resampled onto the stored image's grid, `out_stride`
    stored pixels per cell (see engine.ai.results)."""
    rows = -(-geom.rows // out_stride)
    cols = -(-geom.columns // out_stride)
    xs = (np.arange(cols) + 0.5) * out_stride
    ys = (np.arange(rows) + 0.5) * out_stride
    u, _ = geom.to_model(xs, np.zeros_like(xs))
    _, v = geom.to_model(np.zeros_like(ys), ys)
    gu = u / stride - 0.5
    gv = v / stride - 0.5
    coords = np.stack(np.meshgrid(gv, gu, indexing="ij"))
    out = ndimage.map_coordinates(heat.astype(np.float32), coords, order=1, cval=0.0)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
