"""Lesions: what they are (3D, per breast) and how they look in one view.

A lesion lives at one 3D position in the breast: depth behind the nipple,
medial-lateral and superior-inferior offsets.  CC shows (depth, medial-
lateral); MLO shows (depth, a 45-degree mix of superior-inferior and
medial-lateral).  The depth behind the nipple is the same in both views,
which is what a radiologist checks to match a finding across views.

Rendering returns a small float32 patch of added "tissue" signal (peak ~
contrast, in units of fibroglandular fraction) and where it goes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypedDict

import numpy as np

CANCER_TYPES = ("mass_circumscribed", "mass_spiculated", "calcifications")
BENIGN_TYPES = ("benign_mass", "benign_calcifications")
CALC_TYPES = ("calcifications", "benign_calcifications")


@dataclass(frozen=True)
class Lesion:
    kind: str
    size_mm: float  # mass diameter, or cluster extent for calcifications
    contrast: float  # peak added fibroglandular fraction (masses/calc specks)
    depth_frac: float  # depth behind the nipple, fraction of usable depth
    ml: float  # medial-lateral position, -1..1
    si: float  # superior-inferior position, -1..1
    seed: int  # details (lobulation, spicules) derived from this
    specks: np.ndarray | None = None  # (n, 5): dx, dy, dz, diameter mm, rel. amplitude

    @property
    def cancer(self) -> bool:
        return self.kind in CANCER_TYPES


def _loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _specks(
    rng: np.random.Generator,
    n: int,
    extent: float,
    dmin: float,
    dmax: float,
    amp: tuple[float, float],
) -> np.ndarray:
    # Points uniformly in a slightly flattened ellipsoid of the given extent.
    pts = rng.uniform(-1.0, 1.0, (n * 4, 3))
    pts = pts[np.sum(pts * pts, axis=1) <= 1.0][:n]
    pts *= np.array([0.5, 0.5, 0.35]) * extent
    diam = rng.uniform(dmin, dmax, len(pts))
    rel = rng.uniform(amp[0], amp[1], len(pts))
    return np.column_stack([pts, diam, rel]).astype(np.float64)


class _Position(TypedDict):
    """Where a lesion sits and its detail seed: the keyword arguments of ``Lesion``."""

    depth_frac: float
    ml: float
    si: float
    seed: int


def sample_lesion(rng: np.random.Generator, kind: str) -> Lesion:
    """Draw a lesion of the given kind.  Contrast ranges reach low values on
    purpose: subtle findings in dense tissue are what a model must learn."""
    pos: _Position = {
        "depth_frac": float(rng.uniform(0.15, 0.8)),
        "ml": float(rng.uniform(-0.8, 0.8)),
        "si": float(rng.uniform(-0.8, 0.8)),
        "seed": int(rng.integers(0, 2**31 - 1)),
    }
    if kind == "mass_circumscribed":
        return Lesion(kind, _loguniform(rng, 4.0, 30.0), _loguniform(rng, 0.12, 0.6), **pos)
    if kind == "mass_spiculated":
        return Lesion(kind, _loguniform(rng, 4.0, 25.0), _loguniform(rng, 0.12, 0.6), **pos)
    if kind == "benign_mass":
        return Lesion(kind, _loguniform(rng, 5.0, 20.0), _loguniform(rng, 0.12, 0.5), **pos)
    if kind == "calcifications":
        extent = float(rng.uniform(5.0, 15.0))
        n = int(rng.integers(6, 26))
        specks = _specks(rng, n, extent, 0.1, 0.5, (0.5, 1.0))
        return Lesion(kind, extent, _loguniform(rng, 0.2, 1.0), specks=specks, **pos)
    if kind == "benign_calcifications":
        extent = float(rng.uniform(20.0, 40.0))
        n = int(rng.integers(3, 9))
        specks = _specks(rng, n, extent, 0.5, 1.5, (0.7, 1.0))
        return Lesion(kind, extent, _loguniform(rng, 0.3, 1.0), specks=specks, **pos)
    raise ValueError(f"unknown lesion kind {kind}")


def in_density(lesion: Lesion, mean_fib: float) -> Lesion:
    """A mass is about as dense as glandular tissue, so it stands out less the
    denser the breast around it: scale a mass's contrast down with density.
    Calcifications are far denser than any tissue and keep their contrast."""
    if lesion.kind in CALC_TYPES:
        return lesion
    return replace(lesion, contrast=lesion.contrast * (1.0 - 0.7 * mean_fib))


def shrink_for_prior(lesion: Lesion, rng: np.random.Generator) -> Lesion:
    """The same cancer a year earlier: smaller, fainter, fewer calcifications."""
    f = float(rng.uniform(0.45, 0.7))
    specks = lesion.specks
    if specks is not None:
        keep = max(3, int(len(specks) * f))
        specks = specks[:keep].copy()
        specks[:, :3] *= f
    return Lesion(
        lesion.kind,
        max(3.0, lesion.size_mm * f),
        lesion.contrast * 0.75,
        lesion.depth_frac,
        lesion.ml,
        lesion.si,
        lesion.seed,
        specks,
    )


def project_offsets(specks: np.ndarray, view: str) -> np.ndarray:
    """(n, 2) in-plane offsets in mm: x along the nipple axis, y down the image."""
    dx, dy, dz = specks[:, 0], specks[:, 1], specks[:, 2]
    if view == "CC":
        return np.column_stack([dx, dy])
    return np.column_stack([dx, 0.7071 * dz + 0.7071 * dy])


def _grid(half: int) -> tuple[np.ndarray, np.ndarray]:
    ax = np.arange(-half, half + 1, dtype=np.float32)
    return ax[None, :], ax[:, None]


def render_mass(lesion: Lesion, view: str, px: float) -> np.ndarray:
    """Centred patch of a mass's projected thickness, peak = contrast."""
    rng = np.random.default_rng([lesion.seed, 1 if view == "CC" else 2])
    r = lesion.size_mm / 2.0 / px
    spiculated = lesion.kind == "mass_spiculated"
    aspect = 1.0 if lesion.kind != "benign_mass" else float(rng.uniform(0.6, 0.9))
    half = int(np.ceil(r * (3.2 if spiculated else 1.3))) + 3
    gx, gy = _grid(half)
    rot = float(rng.uniform(0, np.pi))
    xr = gx * np.cos(rot) + gy * np.sin(rot)
    yr = (-gx * np.sin(rot) + gy * np.cos(rot)) / aspect
    rho = np.sqrt(xr * xr + yr * yr)
    theta = np.arctan2(yr, xr)
    # Lobulated outline: few low harmonics for circumscribed/benign, more and
    # stronger ones for the irregular core of a spiculated mass.
    harm = range(2, 9) if spiculated else range(2, 5)
    amp = 0.1 if spiculated else (0.05 if lesion.kind == "mass_circumscribed" else 0.02)
    rad = np.ones_like(theta)
    for k in harm:
        # Amplitude falling with the harmonic order: irregular, not flower-like.
        a_k = amp * 3.0 / k * float(rng.uniform(-1, 1))
        rad += a_k * np.cos(k * theta + float(rng.uniform(0, 6.3)))
    u = np.clip(rho / (r * rad), 0.0, 1.0)
    # Spherical thickness profile with a softened rim (sharper for benign).
    edge = 0.08 if lesion.kind == "benign_mass" else 0.15
    core = np.sqrt(np.clip(1.0 - u * u, 0.0, None))
    core *= np.clip((1.0 - u) / edge, 0.0, 1.0) ** 0.5
    out = core.astype(np.float32)
    if spiculated:
        for _ in range(int(rng.integers(8, 20))):
            ang = float(rng.uniform(0, 2 * np.pi))
            length = r * float(rng.uniform(1.4, 3.0))
            width = max(0.7, 0.45 / px * float(rng.uniform(0.6, 1.4)))
            c, s = np.cos(ang), np.sin(ang)
            along = gx * c + gy * s
            across = np.abs(-gx * s + gy * c)
            t = np.clip((along - 0.5 * r) / (length - 0.5 * r), 0.0, 1.0)
            w = width * (1.0 - t) + 0.3
            line = np.where((along > 0.5 * r) & (along < length), 1.0 - t, 0.0)
            line = line * np.clip(1.0 - across / w, 0.0, 1.0)
            strength = float(rng.uniform(0.25, 0.5))
            np.maximum(out, strength * line.astype(np.float32), out=out)
    return out * np.float32(lesion.contrast)


def render_specks(lesion: Lesion, view: str, px: float) -> tuple[np.ndarray, np.ndarray]:
    """Centred patch of calcification specks, and each speck's centre (px)."""
    assert lesion.specks is not None
    off = project_offsets(lesion.specks, view) / px
    diam = lesion.specks[:, 3] / px
    half = int(np.ceil(np.abs(off).max() + diam.max() * 2)) + 4
    patch = np.zeros((2 * half + 1, 2 * half + 1), dtype=np.float32)
    for (ox, oy), d, rel in zip(off, diam, lesion.specks[:, 4], strict=True):
        # A speck is a Gaussian of FWHM = its diameter; specks smaller than a
        # pixel keep their integrated signal (partial-volume), so they get
        # fainter rather than vanish.
        sigma = max(d / 2.355, 0.45)
        peak = rel * min(1.0, (d / 2.355 / sigma) ** 2)
        k = int(np.ceil(3 * sigma)) + 1
        cx, cy = half + ox, half + oy
        x0, y0 = int(np.floor(cx)) - k, int(np.floor(cy)) - k
        xs = np.arange(x0, x0 + 2 * k + 2, dtype=np.float32)[None, :]
        ys = np.arange(y0, y0 + 2 * k + 2, dtype=np.float32)[:, None]
        g = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * sigma * sigma)) * peak
        sub = patch[y0 : y0 + 2 * k + 2, x0 : x0 + 2 * k + 2]
        np.maximum(sub, g.astype(np.float32), out=sub)
    return patch * np.float32(lesion.contrast), off
