"""What a reader (or a model) sees in the phantom images: power-law texture,
density, lesions in both views at the same depth behind the nipple."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from engine.phantom import generate_cohort

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI


def _rows(labels: Path) -> list[dict[str, str]]:
    with open(labels, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("healthy")
    res = generate_cohort(out, 16, seed=11, size="small", cancer_rate=0.0)
    return out, _rows(res.labels_csv)


@pytest.fixture(scope="module")
def cancers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, str]]]:
    out = tmp_path_factory.mktemp("cancers")
    res = generate_cohort(out, 12, seed=21, size="small", cancer_rate=1.0, prior_rate=0.5)
    return out, _rows(res.labels_csv)


def _pixels(out: Path, rel: str) -> tuple[np.ndarray, int]:
    ds = pydicom.dcmread(out / rel)
    return ds.pixel_array.astype(np.float64), 2**ds.BitsStored - 1


def _breast_mask(arr: np.ndarray, maxv: int) -> np.ndarray:
    return arr > 0.1 * maxv  # air is ~3 % of full scale, the thinnest skin ~20 %


def _welch_spectrum(arr: np.ndarray, maxv: int, chest_right: bool, half: int = 128, win: int = 128):
    """Averaged periodogram of 128-px tiles of a 256-px ROI placed as far from
    the skin as possible (the chest-wall edge is not skin: tissue goes on)."""
    mask = np.pad(_breast_mask(arr, maxv), 1)
    chest = -1 if chest_right else 0
    mask[:, chest] = mask[:, chest - 1 if chest_right else 1]
    depth = ndimage.distance_transform_edt(mask)[1:-1, 1:-1]
    depth[:, :half] = depth[:, -half:] = depth[:half] = depth[-half:] = 0
    cy, cx = np.unravel_index(np.argmax(depth), depth.shape)
    assert depth[cy, cx] > half * 1.6, "breast too small for the ROI"
    roi = arr[cy - half : cy + half, cx - half : cx + half]
    taper = np.outer(np.hanning(win), np.hanning(win))
    yy, xx = np.mgrid[0:win, 0:win]
    design = np.column_stack([np.ones(win * win), xx.ravel(), yy.ravel()])
    acc, n = 0.0, 0
    for y0 in range(0, 2 * half - win + 1, win // 2):
        for x0 in range(0, 2 * half - win + 1, win // 2):
            tile = roi[y0 : y0 + win, x0 : x0 + win]
            coef, *_ = np.linalg.lstsq(design, tile.ravel(), rcond=None)
            tile = (tile - (design @ coef).reshape(tile.shape)) * taper  # remove the ramp
            acc = acc + np.abs(np.fft.fft2(tile)) ** 2
            n += 1
    f = np.fft.fftfreq(win)
    return np.hypot(f[:, None], f[None, :]), acc / n


def _fit_beta(freq: np.ndarray, power: np.ndarray, band=(0.02, 0.2)) -> float:
    """Slope of the radially averaged spectrum over a mid band (cycles/pixel)."""
    edges = np.geomspace(band[0], band[1], 12)
    fc, pc = [], []
    for lo, hi in itertools.pairwise(edges):
        sel = (freq >= lo) & (freq < hi)
        fc.append(freq[sel].mean())
        pc.append(power[sel].mean())
    return float(-np.polyfit(np.log(fc), np.log(pc), 1)[0])


def test_texture_has_power_law_spectrum(healthy) -> None:
    out, rows = healthy
    fitted, labelled = [], []
    densities = set()
    for i in range(0, len(rows), 2):  # one woman: both CC views share beta
        right, left = rows[i], rows[i + 1]
        # Lesion-free CC views only (a finding in the ROI is not texture).
        spectra = [
            _welch_spectrum(*_pixels(out, r["cc_file"]), r["laterality"] == "R")
            for r in (right, left)
            if r["lesion_type"] == "none"
        ]
        if not spectra:
            continue
        beta = _fit_beta(spectra[0][0], sum(s[1] for s in spectra))
        label = float(right["texture_beta"])
        assert 2.5 <= label <= 3.5
        # Estimation error of a 256-px ROI is ~0.2; allow 0.35.
        assert abs(beta - label) < 0.35, f"{right['study_id']}: fitted {beta:.2f} vs {label}"
        assert 2.2 <= beta <= 3.8
        fitted.append(beta)
        labelled.append(label)
        densities.add(right["density"])
    assert len(densities) >= 3
    assert 2.5 <= np.mean(fitted) <= 3.5
    assert np.corrcoef(fitted, labelled)[0, 1] > 0.7  # beta really varies per woman


def test_density_raises_dense_tissue_fraction(healthy) -> None:
    out, rows = healthy
    by_density: dict[str, list[float]] = {}
    for r in rows:
        arr, maxv = _pixels(out, r["cc_file"])
        inner = ndimage.binary_erosion(_breast_mask(arr, maxv), iterations=100)
        dense = float(np.mean(arr[inner] > 0.5 * maxv))  # bright = dense tissue
        by_density.setdefault(r["density"], []).append(dense)
    assert set(by_density) == {"a", "b", "c", "d"}
    means = [np.mean(by_density[d]) for d in "abcd"]
    assert means == sorted(means) and len(set(means)) == 4, means
    assert means[0] < 0.1 and means[3] > 0.6, means


def _nipple_depth_mm(
    arr: np.ndarray, maxv: int, laterality: str, x_centre: float, px: float
) -> float:
    cols = np.flatnonzero(_breast_mask(arr, maxv).any(axis=0))
    nipple_x = cols.min() if laterality == "R" else cols.max()
    return abs(x_centre - nipple_x) * px


def test_lesions_visible_in_both_views_at_same_nipple_depth(cancers) -> None:
    out, rows = cancers
    lesion_rows = [r for r in rows if r["lesion_type"] != "none"]
    assert sum(int(r["cancer"]) for r in rows if r["is_prior"] == "0") == 12
    kinds = {r["lesion_type"] for r in lesion_rows}
    assert {"calcifications", "mass_spiculated"} <= kinds
    contrasts = []
    for r in lesion_rows:
        px = float(r["pixel_spacing_mm"])
        depths = []
        for view in ("cc", "mlo"):
            arr, maxv = _pixels(out, r[f"{view}_file"])
            x0, y0, x1, y1 = (int(r[f"{view}_bbox_{k}"]) for k in ("x0", "y0", "x1", "y1"))
            assert 0 <= x0 < x1 <= arr.shape[1] and 0 <= y0 < y1 <= arr.shape[0]
            box = arr[y0:y1, x0:x1]
            assert _breast_mask(box, maxv).all(), "lesion box leaves the breast"
            depths.append(_nipple_depth_mm(arr, maxv, r["laterality"], (x0 + x1) / 2, px))
            if "calcifications" in r["lesion_type"]:
                # Specks: local maxima standing well above their 7x7 median.
                resid = arr - ndimage.median_filter(arr, size=7)
                noise = 1.4826 * np.median(np.abs(resid[_breast_mask(arr, maxv)]))
                peaks = (resid > 6 * noise) & (resid == ndimage.maximum_filter(resid, 3))
                inside = int(peaks[y0:y1, x0:x1].sum())
                elsewhere = peaks.sum() - inside
                assert inside >= 3, f"{r['study_id']} {view}: {inside} specks"
                density_in = inside / box.size
                density_out = elsewhere / _breast_mask(arr, maxv).sum()
                assert density_in > 10 * density_out, (density_in, density_out)
            else:
                contrasts.append(float(r[f"{view}_cnr"]))
        # The radiologist's cross-view check: same depth behind the nipple.
        assert abs(depths[0] - depths[1]) < 5.0, f"{r['study_id']}: depths {depths}"
    # Masses are brighter than their surroundings on average, with subtle ones
    # (CNR < 1) in the mix as the default difficulty requires.
    assert np.median(contrasts) > 0.8
    assert min(contrasts) < 1.0


def test_healthy_breasts_have_no_lesion_labels(healthy) -> None:
    _, rows = healthy
    for r in rows:
        assert r["cancer"] == "0"
        assert r["lesion_type"] in ("none", "benign_mass", "benign_calcifications")
        if r["lesion_type"] == "none":
            assert all(
                r[f"{v}_bbox_{k}"] == "" for v in ("cc", "mlo") for k in ("x0", "y0", "x1", "y1")
            )
            assert r["cc_cnr"] == r["mlo_cnr"] == ""
    assert any(r["lesion_type"].startswith("benign") for r in rows)


def test_prior_shows_same_woman_with_smaller_or_absent_cancer(cancers) -> None:
    out, rows = cancers
    current = {(r["study_id"], r["laterality"]): r for r in rows if r["is_prior"] == "0"}
    priors = [r for r in rows if r["is_prior"] == "1"]
    assert priors
    for p in priors:
        c = current[(p["study_id"].removesuffix("-prior"), p["laterality"])]
        assert p["patient_id"] == c["patient_id"]
        assert p["study_instance_uid"] != c["study_instance_uid"]
        assert p["texture_beta"] == c["texture_beta"] and p["density"] == c["density"]
        if c["cancer"] == "1":
            assert p["lesion_type"] == "none" or (
                p["lesion_type"] == c["lesion_type"]
                and float(p["lesion_size_mm"]) < float(c["lesion_size_mm"])
            )
        ds_cur = pydicom.dcmread(out / c["cc_file"], stop_before_pixels=True)
        ds_pri = pydicom.dcmread(out / p["cc_file"], stop_before_pixels=True)
        assert ds_cur.PatientBirthDate == ds_pri.PatientBirthDate
        assert ds_cur.PatientName == ds_pri.PatientName
        d_cur, d_pri = ds_cur.StudyDate, ds_pri.StudyDate
        gap = (
            np.datetime64(f"{d_cur[:4]}-{d_cur[4:6]}-{d_cur[6:]}")
            - np.datetime64(f"{d_pri[:4]}-{d_pri[4:6]}-{d_pri[6:]}")
        ).astype(int)
        assert 330 <= gap <= 400
