"""The model reads a mammogram decoded only as finely as it needs: the
reduction chosen from the pixel spacing, JPEG 2000 straight from its
resolution levels, and a geometry that still lands on the stored pixels
(odd sizes and mirrored images included)."""

from __future__ import annotations

import copy

import numpy as np
import pydicom
import pytest

from engine.ai.preprocess import InputSpec, Prepared, model_level, prepare
from engine.dicom.pixels import decode_pixels
from engine.phantom import generate_cohort

SPEC = InputSpec()


@pytest.mark.parametrize(("spacing", "level"), [
    (0.2, 0), (0.15, 0), (0.1, 1), (0.07, 1), (0.065, 1), (0.05, 2), (0.025, 3),
])
def test_the_reduction_keeps_pixels_no_larger_than_the_models(spacing, level):
    assert model_level(spacing, SPEC) == level
    assert spacing * 2**level <= SPEC.mm_per_pixel + 1e-9 < spacing * 2 ** (level + 1)


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[pydicom.Dataset]]:
    root = tmp_path_factory.mktemp("reduced")
    out = {}
    for name, j2k in (("raw", False), ("j2k", True)):
        cohort = generate_cohort(root / name, 1, seed=5, cancer_rate=1.0, size="small",
                                 jpeg2000=j2k)
        out[name] = [pydicom.dcmread(p) for p in sorted(cohort.files)]
    return out


def _odd_mirrored(ds: pydicom.Dataset) -> pydicom.Dataset:
    """One column fewer (an odd width: the reduction's last column is half a
    pixel) and stored the other way round, its orientation saying so."""
    out = copy.deepcopy(ds)
    arr = np.ascontiguousarray(ds.pixel_array[:, -2::-1])
    out.PixelData, out.Columns = arr.tobytes(), arr.shape[1]
    row_dir, col_dir = (str(v) for v in ds.PatientOrientation)
    out.PatientOrientation = [{"A": "P", "P": "A"}[row_dir], col_dir]
    return out


def _same_tissue(a: Prepared, b: Prepared, rows: int, cols: int) -> float:
    """Correlation of what the two inputs show at the same stored pixels of the breast."""
    ys, xs = np.mgrid[8:rows - 8:37, 8:cols - 8:29].reshape(2, -1).astype(float)
    va, vb = [], []
    for p, out in ((a, va), (b, vb)):
        u, v = p.geometry.to_model(xs, ys)
        inside = (u >= 0) & (u < SPEC.width) & (v >= 0) & (v < SPEC.height)
        out.append(np.where(inside, p.image[np.clip(v, 0, SPEC.height - 1).astype(int),
                                            np.clip(u, 0, SPEC.width - 1).astype(int)], 0.0))
    both = (va[0] > 0) & (vb[0] > 0)
    assert both.sum() > 100
    return float(np.corrcoef(va[0][both], vb[0][both])[0, 1])


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("kind", ["raw", "j2k", "odd-mirrored"])
def test_reduced_input_shows_the_same_breast_at_the_same_stored_pixels(studies, kind, index):
    ds = studies["raw" if kind == "odd-mirrored" else kind][index]
    if kind == "odd-mirrored":
        ds = _odd_mirrored(ds)
    reduced = prepare(ds, SPEC)  # decoded at 0.2 mm (level 1 of 0.1 mm)
    full = prepare(ds, SPEC, stored=decode_pixels(ds))  # every stored pixel
    assert reduced.geometry.rows == full.geometry.rows == ds.Rows
    assert reduced.geometry.columns == full.geometry.columns == ds.Columns
    assert reduced.geometry.flipped == full.geometry.flipped
    assert abs(reduced.breast_fraction - full.breast_fraction) < 0.02
    assert _same_tissue(reduced, full, ds.Rows, ds.Columns) > 0.97


def test_a_shifted_geometry_would_be_caught(studies):
    """The comparison above notices a mapping off by a few stored pixels."""
    ds = studies["raw"][0]
    reduced = prepare(ds, SPEC)
    full = prepare(ds, SPEC, stored=decode_pixels(ds))
    g = full.geometry
    shifted = Prepared(full.image, type(g)(g.rows, g.columns, g.flipped, g.scale, g.x0 + 24,
                                           g.y0, g.pad_u, g.pad_v), full.breast_fraction)
    assert _same_tissue(reduced, shifted, ds.Rows, ds.Columns) < _same_tissue(
        reduced, full, ds.Rows, ds.Columns) - 0.02


def test_jpeg2000_and_uncompressed_give_the_model_nearly_the_same_input(studies):
    for raw, j2k in zip(studies["raw"], studies["j2k"], strict=True):
        # the wavelet's low-pass and a 2 x 2 mean differ a little, so the
        # breast outline (and with it the crop) may move by a pixel or two
        a, b = prepare(raw, SPEC), prepare(j2k, SPEC)
        assert abs(a.breast_fraction - b.breast_fraction) < 0.01
        assert _same_tissue(a, b, raw.Rows, raw.Columns) > 0.99
