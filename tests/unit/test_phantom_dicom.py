"""The phantom's DICOM files: IOD-valid, mammography attributes, MONOCHROME1
and JPEG 2000 variants."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from engine.phantom import generate_cohort

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

DCIODVFY = shutil.which("dciodvfy") or "/usr/bin/dciodvfy"
SEED = 5
COMMON = {"seed": SEED, "size": "small", "cancer_rate": 1.0, "prior_rate": 1.0}


@pytest.fixture(scope="module")
def cohorts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("phantom_dicom")
    return {
        "mono2": generate_cohort(base / "m2", 2, **COMMON),
        "mono1": generate_cohort(base / "m1", 1, photometric="MONOCHROME1", **COMMON),
        "j2k": generate_cohort(base / "j2k", 1, jpeg2000=True, **COMMON),
    }


def _dciodvfy_errors(path: Path) -> list[str]:
    proc = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=60)
    out = proc.stdout + proc.stderr
    return [line for line in out.splitlines() if line.startswith("Error")]


@pytest.mark.parametrize("variant", ["mono2", "mono1", "j2k"])
def test_dciodvfy_reports_no_errors(cohorts: dict, variant: str) -> None:
    if not Path(DCIODVFY).exists():
        pytest.fail("dciodvfy (Debian package dicom3tools) is not installed; it is required")
    result = cohorts[variant]
    assert result.files, "no files written"
    priors = [f for f in result.files if f.parent.name.endswith("-prior")]
    assert priors, "the cohort should include prior studies"
    for f in result.files:
        errors = _dciodvfy_errors(f)
        assert errors == [], f"{f.parent.name}/{f.name}: {errors}"


def test_mammography_attributes(cohorts: dict) -> None:
    expected = {
        "RCC": ("R", "CC", "399162004", ["P", "L"]),
        "LCC": ("L", "CC", "399162004", ["A", "R"]),
        "RMLO": ("R", "MLO", "399368009", ["P", "FL"]),
        "LMLO": ("L", "MLO", "399368009", ["A", "FR"]),
    }
    for f in cohorts["mono2"].files:
        ds = pydicom.dcmread(f)
        lat, pos, code, orient = expected[f.stem]
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2"
        assert ds.Modality == "MG"
        assert ds.PresentationIntentType == "FOR PRESENTATION"
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert ds.ImageLaterality == lat and ds.ViewPosition == pos
        assert ds.ViewCodeSequence[0].CodeValue == code
        assert ds.ViewCodeSequence[0].CodingSchemeDesignator == "SCT"
        assert list(ds.PatientOrientation) == orient
        assert ds.BitsAllocated == 16 and 12 <= ds.BitsStored <= 14
        assert ds.HighBit == ds.BitsStored - 1 and ds.PixelRepresentation == 0
        assert ds.BreastImplantPresent == "NO" and ds.BurnedInAnnotation == "NO"
        assert 0.05 <= float(ds.PixelSpacing[0]) <= 0.1
        assert list(ds.PixelSpacing) == list(ds.ImagerPixelSpacing)
        assert "WindowCenter" in ds and "WindowWidth" in ds
        lut = ds.VOILUTSequence[0]
        n_entries = lut.LUTDescriptor[0] or 65536
        assert (
            len(lut.LUTData) == n_entries
            if isinstance(lut.LUTData, list)
            else len(lut.LUTData) == 2 * n_entries
        )
        assert str(ds.PatientName).startswith("PHANTOM^")
        assert ds.PatientID.startswith(f"MDP-{SEED}-")
        assert int(ds.pixel_array.max()) <= 2**ds.BitsStored - 1


def test_chest_wall_edge_and_pectoral_muscle(cohorts: dict) -> None:
    for f in cohorts["mono2"].files:
        ds = pydicom.dcmread(f)
        arr = ds.pixel_array.astype(np.float64)
        maxv = 2**ds.BitsStored - 1
        mid = slice(arr.shape[0] // 3, 2 * arr.shape[0] // 3)
        left, right = arr[mid, :4].mean(), arr[mid, -4:].mean()
        # Right breast: chest wall at the right edge, nipple pointing left.
        chest, far = (right, left) if ds.ImageLaterality == "R" else (left, right)
        assert chest > 0.2 * maxv > far, f"{f.stem}: breast not against its chest-wall edge"
        h, w = arr.shape
        corner = (
            arr[: h // 20, -(w // 20) :] if ds.ImageLaterality == "R" else arr[: h // 20, : w // 20]
        )
        # High in the axilla there is only fat (~1/3 of full scale) unless the
        # pectoral muscle is there; the CC corner is outside the breast.
        if ds.ViewPosition == "MLO":
            assert corner.mean() > 0.45 * maxv, f"{f.stem}: no pectoral muscle"
        else:
            assert corner.mean() < 0.1 * maxv, f"{f.stem}: CC corner is not background"


def test_monochrome1_is_the_inversion(cohorts: dict) -> None:
    m2 = {(f.parent.name, f.name): f for f in cohorts["mono2"].files}
    for f in cohorts["mono1"].files:
        d1 = pydicom.dcmread(f)
        d2 = pydicom.dcmread(m2[(f.parent.name, f.name)])
        assert d1.PhotometricInterpretation == "MONOCHROME1"
        assert d1.PresentationLUTShape == "INVERSE"
        maxv = 2**d1.BitsStored - 1
        np.testing.assert_array_equal(
            d1.pixel_array.astype(np.int32), maxv - d2.pixel_array.astype(np.int32)
        )
        assert float(d1.WindowCenter) == maxv - float(d2.WindowCenter)


def test_jpeg2000_is_lossless(cohorts: dict) -> None:
    m2 = {(f.parent.name, f.name): f for f in cohorts["mono2"].files}
    assert len(cohorts["j2k"].files) == 8
    for f in cohorts["j2k"].files:
        dj = pydicom.dcmread(f)
        assert dj.file_meta.TransferSyntaxUID == JPEG2000Lossless
        assert f.stat().st_size < m2[(f.parent.name, f.name)].stat().st_size
        plain = pydicom.dcmread(m2[(f.parent.name, f.name)]).pixel_array
        np.testing.assert_array_equal(dj.pixel_array, plain)


def test_jpeg2000_images_keep_the_uids_labels_name_them_by(cohorts: dict) -> None:
    import csv

    cohort = cohorts["j2k"]
    root = cohort.labels_csv.parent
    labelled = {}
    with open(cohort.labels_csv, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            for view in ("cc", "mlo"):
                labelled[row[f"{view}_sop_instance_uid"]] = row[f"{view}_file"]
    for f in cohort.files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID
        assert labelled.get(ds.SOPInstanceUID) == f.relative_to(root).as_posix()
