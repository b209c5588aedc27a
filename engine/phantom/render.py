"""Compose one view: anatomy + texture + lesion -> stored pixel values.

Intensities are built in a normalised 0..1 "presentation" scale (bright =
dense, as on a processed For Presentation image) and quantised to BitsStored
at the end.  The mapping is linear so the texture's power-law spectrum
survives into the written pixels unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.phantom.geometry import ViewGeometry
from engine.phantom.lesions import CALC_TYPES, Lesion, render_mass, render_specks
from engine.phantom.measure import lesion_cnr

# (mean fibroglandular fraction, texture amplitude) per ACR density category.
DENSITY_PARAMS: dict[str, tuple[float, float]] = {
    "a": (0.08, 0.07),
    "b": (0.24, 0.11),
    "c": (0.45, 0.15),
    "d": (0.66, 0.18),
}

_BACKGROUND = 0.03
_FAT = 0.20  # fat at the thin rim; full thickness adds _FAT_THICK
_FAT_THICK = 0.14
_GLAND = 0.42  # brightness of 100 % fibroglandular tissue over fat
_MUSCLE = 0.56
_SKIN = 0.07
_NOISE = 0.0025  # quantum + electronic noise, in the 0..1 scale


@dataclass
class RenderedView:
    pixels: np.ndarray  # uint16, MONOCHROME2 sense, stored orientation
    bbox: tuple[int, int, int, int] | None  # x0, y0, x1, y1 (end exclusive)
    cnr: float | None
    nipple: tuple[int, int]  # stored orientation
    window: tuple[float, float]  # centre, width (MONOCHROME2 sense)


def _smoothstep(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return s * s * (3.0 - 2.0 * s)


def _tissue(geom: ViewGeometry, texture: np.ndarray, density: str, view: str) -> np.ndarray:
    """Fat, gland, skin and (MLO) muscle in the 0..1 scale; ``texture`` is
    reused in place as the image."""
    mean_fib, amp_fib = DENSITY_PARAMS[density]
    t = geom.thickness
    # Glandular tissue sits inside the subcutaneous fat: fade it out towards
    # the skin over ~1.5x the rim width.
    env = _smoothstep(geom.edge_mm / np.float32(14.0))
    if view == "MLO":
        rows = t.shape[0]
        fade = _smoothstep((np.arange(rows, dtype=np.float32) / rows - 0.05) / 0.3)
        env *= fade[:, None]  # little gland tissue high in the axilla
    muscle_tex = None
    if view == "MLO":
        # Muscle gets its own mild texture: a flipped, independent-looking
        # corner of the field, copied before the field is reused in place.
        rr, cc = np.nonzero(geom.pectoral[:, : max(1, geom.pectoral.shape[1] // 2)])
        pr, pc = (int(rr.max()) + 1, int(cc.max()) + 1) if rr.size else (1, 1)
        muscle_tex = texture[::-1, ::-1][:pr, :pc].copy()
    fib = texture
    fib *= np.float32(amp_fib)
    fib += np.float32(mean_fib)
    img = fib
    img *= env
    img *= t
    img *= np.float32(_GLAND)
    del env, fib
    img += np.float32(_FAT) + np.float32(_FAT_THICK) * t
    skin = np.clip(1.0 - geom.edge_mm / np.float32(2.0), 0.0, 1.0)
    img += np.float32(_SKIN) * skin
    if view == "MLO":
        assert muscle_tex is not None
        pr, pc = muscle_tex.shape
        pec = geom.pectoral[:pr, :pc]
        sub = img[:pr, :pc]
        sub *= 1.0 - pec
        sub += pec * (np.float32(_MUSCLE) + np.float32(0.04) * t[:pr, :pc] * muscle_tex)
    img[~geom.mask] = np.float32(_BACKGROUND)
    return img


def _add_lesion(
    img: np.ndarray,
    geom: ViewGeometry,
    lesion: Lesion | None,
    centre: tuple[float, float] | None,
    view: str,
    px: float,
) -> tuple[np.ndarray | None, tuple[int, int]]:
    """Add the lesion's signal to ``img``; return the signal and its origin."""
    signal = None
    origin = (0, 0)
    if lesion is not None and centre is not None:
        if lesion.kind in CALC_TYPES:
            signal, _ = render_specks(lesion, view, px)
        else:
            signal = render_mass(lesion, view, px)
        half = signal.shape[0] // 2
        origin = (round(centre[0]) - half, round(centre[1]) - half)
        _add_patch(img, signal * np.float32(_GLAND), origin, geom.thickness)
    return signal, origin


def _quantise(img: np.ndarray, bits: int, noise_rng: np.random.Generator) -> np.ndarray:
    """Add detector noise and round to BitsStored (``img`` is consumed)."""
    img += noise_rng.standard_normal(img.shape, dtype=np.float32) * np.float32(_NOISE)
    maxv = float(2**bits - 1)
    img *= np.float32(maxv)
    np.clip(img, 0.0, maxv, out=img)
    return np.rint(img).astype(np.uint16)


def render_view(
    geom: ViewGeometry,
    texture: np.ndarray,
    density: str,
    laterality: str,
    bits: int,
    px: float,
    noise_rng: np.random.Generator,
    lesion: Lesion | None = None,
    centre: tuple[float, float] | None = None,
    view: str = "CC",
) -> RenderedView:
    """Render one view.  ``texture`` is a unit-std power-law field (modified
    in place to save memory at full size); ``centre`` is the lesion's (x, y)
    in canonical pixels."""
    img = _tissue(geom, texture, density, view)
    signal, origin = _add_lesion(img, geom, lesion, centre, view, px)
    pixels = _quantise(img, bits, noise_rng)
    del img

    bbox = cnr = None
    if signal is not None:
        bbox, cnr = lesion_cnr(
            pixels,
            geom.mask,
            signal,
            origin,
            px,
            calcs=lesion is not None and lesion.kind in CALC_TYPES,
        )
    window = _window(pixels, geom.mask)
    nipple = geom.nipple
    if laterality == "R":
        # Right breast: chest wall on the right edge, nipple pointing left.
        pixels = np.ascontiguousarray(pixels[:, ::-1])
        cols = pixels.shape[1]
        nipple = (cols - 1 - nipple[0], nipple[1])
        if bbox is not None:
            bbox = (cols - bbox[2], bbox[1], cols - bbox[0], bbox[3])
    return RenderedView(pixels, bbox, cnr, nipple, window)


def _add_patch(
    img: np.ndarray, patch: np.ndarray, origin: tuple[int, int], thickness: np.ndarray
) -> None:
    """img[origin...] += patch * thickness, clipped to the image."""
    x0, y0 = origin
    h, w = patch.shape
    ya, yb = max(0, y0), min(img.shape[0], y0 + h)
    xa, xb = max(0, x0), min(img.shape[1], x0 + w)
    if ya >= yb or xa >= xb:
        return
    sub = patch[ya - y0 : yb - y0, xa - x0 : xb - x0]
    img[ya:yb, xa:xb] += sub * thickness[ya:yb, xa:xb]


def _window(pixels: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Window covering the breast's 1st..99.8th percentile (subsampled)."""
    vals = pixels[::4, ::4][mask[::4, ::4]]
    lo, hi = np.percentile(vals, [1.0, 99.8]) if vals.size else (0.0, 1.0)
    width = max(float(hi - lo) * 1.1, 16.0)
    return float(round((lo + hi) / 2.0)), float(round(width))
