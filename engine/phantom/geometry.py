"""Compressed-breast outline, skin line, nipple and pectoral muscle.

Everything is built in a canonical frame: chest wall at the LEFT image edge
(x = 0), nipple pointing right, top of the image lateral (CC) or superior
(MLO).  That is how a left breast is stored; right-breast images are mirrored
at the very end (see render.py), so geometry never needs two code paths.

The outline is described row by row (``x_edge[y]`` = how far the breast
reaches from the chest wall on row y).  That keeps every per-pixel operation
a broadcast between a column vector and a row vector: fast at 13 Mpixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.phantom.presets import SizePreset


@dataclass(frozen=True)
class BreastShape:
    """Shape parameters of one breast, as fractions of the field of view."""

    depth_cc: float  # chest wall -> nipple, fraction of image width
    depth_mlo: float
    half_height_cc: float  # fraction of image height
    centre_cc: float  # row of the nipple in CC, fraction of height
    exp_cc: float  # superellipse exponent of the CC outline
    nipple_mlo: float  # row of the nipple in MLO, fraction of height
    fold_mlo: float  # inframammary fold row, fraction of height
    axilla_mlo: float  # breast width at the top edge in MLO, fraction of depth
    pect_width: float  # pectoral width at the top edge, fraction of depth
    pect_height: float  # pectoral height at the chest wall, fraction of height
    pect_curve: float  # exponent of the pectoral edge (1 = straight)
    wobble: tuple[float, ...]  # amplitudes/phases of low-order outline wobble
    skin_mm: float
    falloff_mm: float  # width of the thinning rim of a compressed breast


def sample_shape(rng: np.random.Generator) -> BreastShape:
    """Draw one woman's breast shape."""
    depth_cc = float(rng.uniform(0.62, 0.82))
    shape = BreastShape(
        depth_cc=depth_cc,
        depth_mlo=min(0.92, depth_cc * float(rng.uniform(1.02, 1.12))),
        half_height_cc=float(rng.uniform(0.33, 0.42)),
        centre_cc=float(rng.uniform(0.47, 0.53)),
        exp_cc=float(rng.uniform(1.7, 2.4)),
        nipple_mlo=float(rng.uniform(0.52, 0.62)),
        fold_mlo=float(rng.uniform(0.9, 0.99)),
        axilla_mlo=float(rng.uniform(0.6, 0.8)),
        pect_width=float(rng.uniform(0.32, 0.5)),
        pect_height=float(rng.uniform(0.45, 0.7)),
        pect_curve=float(rng.uniform(0.85, 1.2)),
        wobble=tuple(float(v) for v in rng.uniform(-1.0, 1.0, 8)),
        skin_mm=float(rng.uniform(1.2, 2.2)),
        falloff_mm=float(rng.uniform(6.0, 10.0)),
    )
    # On an MLO the skin line leaves the top edge just beyond the pectoral
    # muscle and runs down to the nipple; the axillary tail is narrow.
    axilla = shape.pect_width + 0.08 + (shape.axilla_mlo - 0.6) * 0.75
    return BreastShape(**{**shape.__dict__, "axilla_mlo": min(0.85, axilla)})


def perturb_shape(shape: BreastShape, rng: np.random.Generator) -> BreastShape:
    """The same breast a year apart: slightly different compression/positioning."""
    s = float(rng.uniform(0.97, 1.03))
    return BreastShape(
        **{
            **shape.__dict__,
            "depth_cc": min(0.9, shape.depth_cc * s),
            "depth_mlo": min(0.92, shape.depth_mlo * s),
            "nipple_mlo": shape.nipple_mlo + float(rng.uniform(-0.015, 0.015)),
            "pect_width": shape.pect_width * float(rng.uniform(0.93, 1.07)),
        }
    )


@dataclass
class ViewGeometry:
    """Per-pixel anatomy maps of one view (canonical orientation)."""

    mask: np.ndarray  # bool, breast incl. skin and nipple
    thickness: np.ndarray  # float32 0..1, compressed thickness profile
    edge_mm: np.ndarray  # float32, distance to the skin surface in mm
    pectoral: np.ndarray  # float32 0..1, pectoral muscle coverage (MLO only)
    nipple: tuple[int, int]  # (x, y) of the nipple tip
    x_edge: np.ndarray  # float32 per row, outline reach in pixels

    def inner_rows(self, columns: list[int], margin_px: int) -> tuple[int, int] | None:
        """Rows that are breast (not pectoral) in all ``columns``, less a margin."""
        if min(columns) < 0 or max(columns) >= self.mask.shape[1]:
            return None
        ok = np.ones(self.mask.shape[0], dtype=bool)
        for x in columns:
            ok &= self.mask[:, x] & (self.pectoral[:, x] < 0.05)
        rows = np.flatnonzero(ok)
        if rows.size == 0:
            return None
        lo, hi = int(rows[0]) + margin_px, int(rows[-1]) - margin_px
        return (lo, hi) if hi > lo else None


def _wobble(n: int, wob: tuple[float, ...], amp: float) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)
    out = np.ones(n, dtype=np.float32)
    for k in range(4):
        out += amp * wob[2 * k] / (k + 1) * np.sin(np.pi * (k + 1) * t + 3.0 * wob[2 * k + 1])
    return out


def _outline_cc(shape: BreastShape, rows: int, cols: int) -> np.ndarray:
    y = np.arange(rows, dtype=np.float32)
    v = np.abs((y - shape.centre_cc * rows) / (shape.half_height_cc * rows))
    reach = np.clip(1.0 - np.minimum(v, 1.0) ** shape.exp_cc, 0.0, None) ** 0.55
    return shape.depth_cc * cols * reach * _wobble(rows, shape.wobble, 0.025)


def _outline_mlo(shape: BreastShape, rows: int, cols: int) -> np.ndarray:
    y = np.arange(rows, dtype=np.float32)
    depth = shape.depth_mlo * cols
    yn, yf = shape.nipple_mlo * rows, shape.fold_mlo * rows
    top = shape.axilla_mlo * depth
    s_up = np.clip(y / yn, 0.0, 1.0)
    upper = top + (depth - top) * np.sin(0.5 * np.pi * s_up) ** 0.8
    s_lo = np.clip((y - yn) / (yf - yn), 0.0, 1.0)
    lower = depth * np.clip(1.0 - s_lo**2.2, 0.0, None) ** 0.5
    reach = np.where(y < yn, upper, lower)
    return reach * _wobble(rows, shape.wobble[::-1], 0.02)


def build_view(shape: BreastShape, view: str, preset: SizePreset) -> ViewGeometry:
    """Anatomy maps for view "CC" or "MLO" at the preset's size."""
    rows, cols, px = preset.rows, preset.columns, preset.pixel_spacing_mm
    x_edge = (_outline_cc if view == "CC" else _outline_mlo)(shape, rows, cols)
    x_edge = x_edge.astype(np.float32)
    # Perpendicular distance to the outline ~ horizontal distance times the
    # cosine of the outline's slope; exact enough for a thinning rim.
    slope = np.gradient(x_edge)
    cos = (1.0 / np.sqrt(1.0 + slope * slope)).astype(np.float32)
    xx = np.arange(cols, dtype=np.float32)[None, :]
    edge_px = (x_edge[:, None] - xx) * cos[:, None]

    # Nipple: a small half-disc at the outline's furthest point.
    ny = int(np.argmax(x_edge))
    nx = float(x_edge[ny])
    r_nip = 4.5 / px
    y0, y1 = max(0, int(ny - r_nip - 2)), min(rows, int(ny + r_nip + 3))
    x1 = min(cols, int(nx + r_nip + 3))
    yy = np.arange(y0, y1, dtype=np.float32)[:, None]
    xs = xx[:, :x1]
    nip = r_nip - np.sqrt((xs - nx + 0.35 * r_nip) ** 2 + (yy - ny) ** 2)
    edge_px[y0:y1, :x1] = np.maximum(edge_px[y0:y1, :x1], nip * 0.6)
    nipple_tip = (min(cols - 1, int(nx + 0.65 * r_nip)), ny)

    edge_mm = edge_px
    edge_mm *= np.float32(px)  # in place: full-size maps are 55 MB each
    mask = edge_mm > 0
    u = np.clip(edge_mm, 0.0, np.float32(shape.falloff_mm))
    u /= np.float32(shape.falloff_mm)
    thickness = 2.0 - u
    thickness *= u
    np.sqrt(thickness, out=thickness)  # circular rim profile of a compressed breast
    del u

    pectoral = np.zeros((rows, cols), dtype=np.float32)
    if view == "MLO":
        pw = shape.pect_width * shape.depth_mlo * cols
        ph = shape.pect_height * rows
        ys = np.arange(rows, dtype=np.float32)
        reach = pw * np.clip(1.0 - ys / ph, 0.0, 1.0) ** shape.pect_curve
        # ~0.4 mm soft edge so the muscle boundary is not a pixel staircase.
        pectoral = np.clip((reach[:, None] - xx) / np.float32(0.4 / px), 0.0, 1.0)
        pectoral *= mask
    return ViewGeometry(mask, thickness, edge_mm, pectoral, nipple_tip, x_edge)
