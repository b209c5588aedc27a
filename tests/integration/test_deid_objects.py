"""De-identifying single objects: what goes out, what stays, and how it looks."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import JPEG2000Lossless

from engine.dicom.pixels import decode_pixels
from sync.deid.deidentify import Deidentifier
from sync.deid.keys import SiteKeys
from sync.deid.pixels import breast_region
from sync.deid.profile import SafePrivate, profile_named

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

KEYS = SiteKeys(secret=b"s" * 32, map_key=b"m" * 32)


def _mg(small_cohort) -> Dataset:
    return pydicom.dcmread(small_cohort.files[0])


def _run(ds: Dataset, profile: str = "sync", **kw):
    return Deidentifier(profile_named(profile, **kw), KEYS).run(ds)


def test_a_mammogram_leaves_with_pseudonyms_consistent_meta_and_the_applied_options(small_cohort):
    ds = _mg(small_cohort)
    before = {k: str(ds.get(k)) for k in ("PatientID", "PatientName", "StudyInstanceUID",
                                          "SOPInstanceUID", "StudyDate", "PatientAge")}
    out = _run(ds)
    assert out.status == "clean", out.reason
    assert ds.PatientID != before["PatientID"] and ds.PatientID in str(ds.PatientName)
    assert ds.StudyInstanceUID.startswith("2.25.") and ds.SOPInstanceUID.startswith("2.25.")
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.BurnedInAnnotation == "NO"
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    # Basic + the sync profile's four options + Clean Pixel Data (the background was blanked).
    assert sorted(codes) == ["113100", "113101", "113105", "113107", "113108", "113109"]
    assert ds.PatientAge == before["PatientAge"]  # retain patient characteristics
    shifted = dt.datetime.strptime(ds.StudyDate, "%Y%m%d")
    original = dt.datetime.strptime(before["StudyDate"], "%Y%m%d")
    assert 1 <= (original - shifted).days <= 3650
    assert "PatientBirthDate" not in ds or not ds.PatientBirthDate


def test_the_basic_profile_lists_only_itself_and_removes_dates(small_cohort):
    ds = _mg(small_cohort)
    assert _run(ds, "basic").status == "clean"
    codes = [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]
    assert sorted(codes) == ["113100", "113101"]
    assert ds.LongitudinalTemporalInformationModified == "REMOVED"
    assert not ds.get("StudyDate")
    assert "PatientAge" not in ds


def test_background_is_blanked_and_the_breast_is_untouched(small_cohort):
    ds = _mg(small_cohort)
    stored = decode_pixels(ds).copy()
    unlabelled = breast_region(ds, stored)
    # A burned-in label, 4 mm x 30 mm, in a corner of the background.
    mm = float(ds.ImagerPixelSpacing[0])
    rows, cols = slice(5, 5 + int(4 / mm)), slice(5, 5 + int(30 / mm))
    assert not unlabelled[rows, cols].any(), "the label must sit in the background"
    stored[rows, cols] = stored.max()
    ds.PixelData = stored.tobytes()
    ds.BurnedInAnnotation = "YES"
    mask = breast_region(ds, stored)
    assert _run(ds).status == "clean"
    after = decode_pixels(ds)
    assert np.array_equal(after[mask], stored[mask])  # lossless inside the breast
    assert len(np.unique(after[~mask])) == 1  # one air level outside
    assert after[rows, cols].max() < stored.max()  # the label is gone
    # The label does not make the breast shrink: the skin line stays in.
    assert (mask & unlabelled).sum() >= 0.99 * unlabelled.sum()


def test_jpeg2000_stays_lossless(small_cohort):
    ds = _mg(small_cohort)
    original = decode_pixels(ds).copy()
    ds.compress(JPEG2000Lossless, original, encoding_plugin="pylibjpeg")
    mask = breast_region(ds, original)
    assert _run(ds).status == "clean"
    assert ds.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert np.array_equal(decode_pixels(ds)[mask], original[mask])


@pytest.mark.parametrize(("sop", "change", "fragment"), [
    ("1.2.840.10008.5.1.4.1.1.7", None, "secondary capture"),
    ("1.2.840.10008.5.1.4.1.1.104.1", None, "Encapsulated PDF"),
    ("1.2.826.0.1.3680043.9.7433.5.5", None, "unknown SOP class"),
    ("1.2.840.10008.5.1.4.1.1.1.1", "burned", "burned-in text"),
    ("1.2.840.10008.5.1.4.1.1.88.50", "text", "free text"),
])
def test_objects_that_cannot_be_cleaned_are_quarantined(small_cohort, sop, change, fragment):
    ds = _mg(small_cohort)
    ds.SOPClassUID = sop
    if change == "burned":
        ds.BurnedInAnnotation = "YES"
    if change == "text":
        item = Dataset()
        item.ValueType = "TEXT"
        item.TextValue = "seen by the reader"
        ds.ContentSequence = Sequence([item])
    name_before = str(ds.PatientName)
    out = _run(ds)
    assert out.status == "quarantined"
    assert fragment in out.reason
    assert str(ds.PatientName) == name_before  # untouched: it stays here as it was


def test_safe_private_keeps_only_the_allowlisted_element(small_cohort):
    ds = _mg(small_cohort)
    block = ds.private_block(0x0019, "VENDOR MAMMO 1", create=True)
    block.add_new(0x10, "DS", "42.5")  # allowlisted: a dose figure
    block.add_new(0x11, "LO", "operator notes")
    other = ds.private_block(0x0021, "OTHER VENDOR", create=True)
    other.add_new(0x10, "DS", "42.5")
    allow = [SafePrivate("VENDOR MAMMO 1", 0x0019, 0x10)]
    profile = profile_named("sync", options=["retain-safe-private"], safe_private=allow)
    assert Deidentifier(profile, KEYS).run(ds).status == "clean"
    kept = [(e.tag, e.value) for e in ds if e.tag.is_private]
    assert [str(v) for _, v in kept] == ["VENDOR MAMMO 1", "42.5"]
    assert "113111" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]
    # Without the option every private element goes, allowlist or not.
    ds2 = _mg(small_cohort)
    ds2.private_block(0x0019, "VENDOR MAMMO 1", create=True).add_new(0x10, "DS", "1")
    _run(ds2, safe_private=allow)
    assert not [e for e in ds2 if e.tag.is_private]


def _errors(path: Path) -> set[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True)
    return {line.strip() for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("Error")}


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools is installed by CI")
@pytest.mark.parametrize("profile", ["basic", "sync"])
def test_dciodvfy_finds_no_new_errors(small_cohort, tmp_path, profile):
    for source in small_cohort.files[:4]:
        ds = pydicom.dcmread(source)
        assert _run(ds, profile).status == "clean"
        target = tmp_path / "out.dcm"
        ds.save_as(target, enforce_file_format=True)
        assert _errors(target) <= _errors(source), source.name


def test_odd_files_are_cleaned_or_refused_never_crash(tmp_path):
    """pydicom's own test files (implicit VR, JPEG, RLE, JPEG-LS, deflate, odd VRs,
    private sequences), told they carry no burned-in text so the cleaning runs."""
    from engine.dicom.reader import read_dataset
    from engine.errors import DicomReadError
    from tests.support.dicom_factory import bundled_files

    outcomes: dict[str, int] = {}
    for path in bundled_files():
        try:
            ds = read_dataset(path)
        except DicomReadError:
            continue
        ds.BurnedInAnnotation = "NO"
        out = _run(ds)
        outcomes[out.status] = outcomes.get(out.status, 0) + 1
        assert out.status in ("clean", "quarantined"), (path, out.reason)
        if out.status == "clean":
            target = tmp_path / "out.dcm"
            ds.save_as(target, enforce_file_format=True)
            back = pydicom.dcmread(target)
            assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
            assert back.PatientIdentityRemoved == "YES"
            assert not [e for e in back if e.tag.is_private]
    assert outcomes["clean"] >= 15
