"""Reading files, headers and the cheap pixel-data integrity check."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path

import pytest

from engine.dicom import (
    DicomReadError,
    NotDicomError,
    decode_pixels,
    instance_header,
    pixel_data_problem,
    read_dataset,
)
from engine.errors import MammoDeskError
from tests.support.dicom_factory import bundled, bundled_files, mg_dataset, to_bytes, view_code

PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(64)


def test_read_real_file_from_path_and_bytes() -> None:
    path = bundled("CT_small.dcm")
    from_path = read_dataset(path)
    from_bytes = read_dataset(Path(path).read_bytes())
    assert from_path.SOPInstanceUID == from_bytes.SOPInstanceUID
    assert from_path.Rows == 128
    assert read_dataset(Path(path)).Modality == "CT"  # PathLike works too


def test_preambleless_files_are_recognised() -> None:
    for name, ts in [
        ("rtstruct.dcm", "1.2.840.10008.1.2"),
        ("ExplVR_LitEndNoMeta.dcm", "1.2.840.10008.1.2.1"),
        ("ExplVR_BigEndNoMeta.dcm", "1.2.840.10008.1.2.2"),
    ]:
        ds = read_dataset(bundled(name))
        assert len(ds) > 10, name
        # The transfer syntax is inferred so that pixel decoding knows the encoding.
        assert ds.file_meta.TransferSyntaxUID == ts, name


@pytest.mark.parametrize(
    "content",
    [b"", b"Patient list\nnot a DICOM file\n" * 20, PNG_BYTES, b"\x00" * 200],
    ids=["empty", "text", "png", "zeros"],
)
def test_non_dicom_content_raises_not_dicom(content: bytes, tmp_path: Path) -> None:
    with pytest.raises(NotDicomError):
        read_dataset(content)
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    with pytest.raises(NotDicomError) as info:
        read_dataset(path)
    assert "\n" not in str(info.value)


def test_missing_file_and_folder_raise_read_errors(tmp_path: Path) -> None:
    with pytest.raises(DicomReadError):
        read_dataset(tmp_path / "absent.dcm")
    with pytest.raises(NotDicomError):
        read_dataset(tmp_path)


def test_truncated_file_is_reported() -> None:
    data = Path(bundled("CT_small.dcm")).read_bytes()
    with pytest.raises(DicomReadError) as info:
        read_dataset(data[: len(data) // 2])
    assert str(info.value) == "truncated: file ends inside element (7FE0,0010)"


@pytest.mark.parametrize(
    "name", ["CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "SC_rgb_jpeg.dcm", "image_dfl.dcm"]
)
def test_every_cut_of_a_real_file_is_reported_or_harmless(name: str) -> None:
    # Cut the file at many points: the user must be told (read error, integrity problem or
    # decode error), and a cut that goes unreported must have left the image intact.
    data = Path(bundled(name)).read_bytes()
    reference = decode_pixels(read_dataset(data))
    for cut in range(1, len(data), max(1, len(data) // 150)):
        try:
            ds = read_dataset(data[:cut])
        except DicomReadError:
            continue
        if pixel_data_problem(ds):
            continue
        try:
            pixels = decode_pixels(ds)
        except MammoDeskError:
            continue
        assert (pixels == reference).all(), f"{name} cut at {cut} decoded silently"


def test_bundled_truncated_files() -> None:
    with pytest.raises(DicomReadError, match=r"\(7FE0,0010\)"):
        read_dataset(bundled("MR_truncated.dcm"))
    with pytest.raises(DicomReadError, match="truncated"):
        read_dataset(bundled("rtplan_truncated.dcm"))


def test_short_native_pixel_data_is_a_problem() -> None:
    ds = mg_dataset(rows=32, cols=24)
    ds.PixelData = ds.PixelData[:1000]
    assert pixel_data_problem(ds) == "pixel data truncated: 1000 of 1536 bytes"
    assert pixel_data_problem(mg_dataset()) is None
    assert pixel_data_problem(mg_dataset(with_pixels=False)) is None


def test_missing_sop_instance_uid() -> None:
    ds = mg_dataset()
    del ds.SOPInstanceUID
    ds = read_dataset(to_bytes(ds))
    with pytest.raises(DicomReadError, match="missing SOP Instance UID"):
        instance_header(ds)


def test_missing_study_uid() -> None:
    ds = mg_dataset()
    del ds.StudyInstanceUID
    with pytest.raises(DicomReadError, match="missing Study Instance UID"):
        instance_header(ds)


def test_instance_header_of_synthetic_mammogram() -> None:
    source = mg_dataset(
        ImageLaterality="L",
        ViewCodeSequence=view_code("399368009", "SCT", "medio-lateral oblique"),
        BreastImplantPresent="YES",
        PresentationIntentType="FOR PROCESSING",
        SeriesDescription="L MLO",
    )
    header = instance_header(read_dataset(to_bytes(source)))
    assert header.sop_class_uid == "1.2.840.10008.5.1.4.1.1.1.2"
    assert header.sop_instance_uid == source.SOPInstanceUID
    assert header.study_instance_uid == source.StudyInstanceUID
    assert header.series_instance_uid == source.SeriesInstanceUID
    assert header.modality == "MG"
    assert (header.patient_id, header.patient_name) == ("SYN-0001", "Synthetic^Patient")
    assert (header.patient_birth_date, header.patient_sex) == ("19700101", "F")
    assert (header.study_date, header.study_time) == ("20240102", "101500")
    assert header.study_description == "Screening mammography"
    assert header.accession_number == "ACC-SYN-1"
    assert (header.series_number, header.instance_number) == (3, 7)
    assert header.series_description == "L MLO"
    assert (header.rows, header.columns, header.bits_stored) == (32, 24, 12)
    assert header.photometric_interpretation == "MONOCHROME2"
    assert header.number_of_frames == 1
    assert header.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert header.presentation_intent == "FOR PROCESSING"
    assert header.implant_present is True
    assert header.has_pixel_data is True
    assert header.is_directory is False
    assert header.view.label == "LMLO"


def test_instance_header_absent_and_odd_values() -> None:
    ds = mg_dataset(with_pixels=False)
    for keyword in (
        "Modality",
        "SeriesNumber",
        "InstanceNumber",
        "PresentationIntentType",
        "BreastImplantPresent",
    ):
        delattr(ds, keyword)
    header = instance_header(ds)
    assert header.modality == ""
    assert header.series_number is None and header.instance_number is None
    assert header.rows is None and header.has_pixel_data is False
    assert header.presentation_intent is None and header.implant_present is None
    assert header.number_of_frames == 1
    assert header.view.label == "??"
    ds.BreastImplantPresent = "NO"
    assert instance_header(ds).implant_present is False


def test_dicomdir_header_needs_no_study() -> None:
    path = os.path.join(bundled("dicomdirtests"), "DICOMDIR")
    header = instance_header(read_dataset(path))
    assert header.is_directory is True
    assert header.sop_instance_uid
    assert header.study_instance_uid == ""


def _walk_bundled() -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in bundled_files():
        try:
            ds = read_dataset(path)
        except NotDicomError:
            counts["not DICOM"] += 1
            continue
        except DicomReadError:
            counts["read error"] += 1
            continue
        counts["read"] += 1
        try:
            instance_header(ds)
            counts["header"] += 1
        except DicomReadError:
            counts["header error"] += 1
        if pixel_data_problem(ds):
            counts["pixel problem"] += 1
        try:
            decode_pixels(ds)
            counts["decoded"] += 1
        except MammoDeskError:
            counts["decode error"] += 1
    return counts


def test_every_bundled_file_is_read_or_rejected_without_crash() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counts = _walk_bundled()
    print("bundled pydicom files:", dict(counts))
    total = len(bundled_files())
    assert counts["read"] + counts["not DICOM"] + counts["read error"] == total
    # Numbers as of pydicom 3.0.2's test_files folder; wide bounds survive small changes.
    assert counts["read"] >= 70
    assert counts["decoded"] >= 55
    assert 5 <= counts["not DICOM"] <= 12  # README, dumps, JSON, ICC profile, gzip, junk file
    assert counts["read error"] >= 2  # MR_truncated.dcm, rtplan_truncated.dcm
