"""Malformed objects are quarantined with one line, never an exception.

Whatever pydicom or numpy cannot make sense of in a file (an element whose VR
does not fit its value, an unknown transfer syntax, an image with no pixels)
must end as a quarantined Outcome: the sync stager and ``anonymize`` go on
with the next object, and nothing half-cleaned is written.
"""

from __future__ import annotations

import logging

import numpy as np
import pydicom
import pytest
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import UID, JPEG2000Lossless, RLELossless

from engine.dicom.reader import read_dataset
from sync.deid.deidentify import Deidentifier, Outcome
from sync.deid.keys import SiteKeys
from sync.deid.profile import profile_from_settings
from tests.support.dicom_factory import mg_dataset, to_bytes

NAME, PATIENT_ID = "Synthetic^Malformed", "SYN-MAL-7"


@pytest.fixture(scope="module")
def deid() -> Deidentifier:
    return Deidentifier(profile_from_settings({}), SiteKeys(secret=b"s" * 32, map_key=b"m" * 32))


def _mammogram(**attrs: object) -> Dataset:
    return mg_dataset(rows=64, cols=64, PatientName=NAME, PatientID=PATIENT_ID, **attrs)


def _with_vr(ds: Dataset, keyword: str, vr: str) -> bytes:
    """``ds`` as a file in which one element's VR (same header layout) says ``vr``."""
    data = to_bytes(ds)
    tag = Tag(keyword)
    head = tag.group.to_bytes(2, "little") + tag.element.to_bytes(2, "little")
    old = ds[keyword].VR.encode()
    assert data.count(head + old) == 1
    return data.replace(head + old, head + vr.encode())


def _quarantined(outcome: Outcome, *words: str) -> None:
    assert outcome.status == "quarantined", outcome.status
    assert outcome.data == b""
    reason = outcome.reason
    assert reason.strip() and "\n" not in reason and len(reason) < 200, reason
    assert NAME not in reason and PATIENT_ID not in reason and "Malformed" not in reason
    for word in words:
        assert word in reason, reason


def _clean(outcome: Outcome) -> Dataset:
    assert outcome.status == "clean", outcome.reason
    return read_dataset(outcome.data)


# -- transfer syntax -----------------------------------------------------------
def test_an_unknown_transfer_syntax_is_quarantined(deid):
    ds = read_dataset(to_bytes(_mammogram()))
    ds.file_meta.TransferSyntaxUID = UID("1.2.840.10008.9.9.9")
    _quarantined(deid.run(ds), "transfer syntax")


def test_a_transfer_syntax_element_of_another_vr_is_still_read(deid):
    ds = read_dataset(to_bytes(_mammogram()))
    ds.file_meta["TransferSyntaxUID"] = DataElement(0x00020010, "LO", "1.2.840.10008.1.2.1")
    out = _clean(deid.run(ds))
    assert out.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian


# -- image attributes ----------------------------------------------------------
def test_an_image_with_no_rows_is_quarantined(deid):
    ds = _mammogram()
    ds.Rows = 0  # the pixel data is still there
    _quarantined(deid.run(read_dataset(to_bytes(ds))), "no pixels")


def _rows_as_text() -> bytes:
    ds = _mammogram()
    ds["Rows"] = DataElement(0x00280010, "LO", "abc")
    return to_bytes(ds)


def _samples_as_bytes() -> bytes:
    ds = _mammogram()
    ds["SamplesPerPixel"] = DataElement(0x00280002, "OB", b"\x01\x00")
    return to_bytes(ds)


UNREADABLE = {
    "Rows as text": _rows_as_text,
    "Samples per Pixel as bytes": _samples_as_bytes,
    "Bits Stored as a 2-byte float": lambda: _with_vr(_mammogram(), "BitsStored", "FL"),
    "Bits Allocated of an unknown VR": lambda: _with_vr(_mammogram(), "BitsAllocated", "XX"),
    "Columns as a list": lambda: to_bytes(_mammogram(Columns=[64, 64])),
}


@pytest.mark.parametrize("label", sorted(UNREADABLE))
def test_unreadable_image_attributes_are_quarantined(deid, label):
    _quarantined(deid.run(read_dataset(UNREADABLE[label]())), "image attributes unreadable")


def test_a_pixel_description_without_bits_allocated_is_quarantined(deid):
    data = to_bytes(_mammogram())
    ds = read_dataset(data)
    del ds.BitsAllocated
    _quarantined(deid.run(ds), "image attributes unreadable")


def _compressed(syntax: UID, **encoding: str) -> Dataset:
    ds = _mammogram()
    image = np.zeros((64, 64), np.uint16)
    image[8:56, :40] = 3000  # a breast at the left edge
    ds.PixelData = image.tobytes()
    ds.compress(syntax, **encoding)
    return ds


def test_rle_segments_that_contradict_the_width_are_quarantined_as_corrupt(deid):
    """The RLE decoder (Rust) would panic here; the reader checks the segments first."""
    ds = _compressed(RLELossless)
    ds.Columns = 2
    _quarantined(deid.run(read_dataset(to_bytes(ds))), "corrupt RLE Lossless")


def test_a_decoder_panic_is_quarantined(deid, monkeypatch):
    """Decoders written in Rust panic with a BaseException, not an Exception."""

    class PanicException(BaseException):
        pass

    def panics(ds: Dataset) -> None:
        raise PanicException("index out of bounds")

    monkeypatch.setattr("sync.deid.pixels.blank_outside_breast", panics)
    _quarantined(deid.run(read_dataset(to_bytes(_mammogram()))),
                 "malformed content: PanicException")


def test_a_request_to_stop_is_not_taken_for_malformed_content(deid, monkeypatch):
    def interrupted(ds: Dataset) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sync.deid.pixels.blank_outside_breast", interrupted)
    with pytest.raises(KeyboardInterrupt):
        deid.run(read_dataset(to_bytes(_mammogram())))


def test_a_failed_re_encode_is_quarantined_with_one_line(deid):
    """The encoder's own multi-line explanation is not the reason a user reads."""
    ds = _compressed(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    ds.PhotometricInterpretation = "RGB"  # with one sample per pixel: cannot be encoded
    _quarantined(deid.run(read_dataset(to_bytes(ds))), "cannot re-encode")


# -- elements the stamp writes -----------------------------------------------------
@pytest.mark.parametrize("keyword", ["PatientName", "PatientID"])
def test_a_patient_element_of_another_vr_is_replaced_with_the_pseudonym(deid, keyword):
    out = _clean(deid.run(read_dataset(_with_vr(_mammogram(), keyword, "AT"))))
    written_vr = out[keyword].VR
    assert written_vr == dictionary_VR(keyword)
    assert str(out[keyword].value).startswith(("ANON^", "MD"))


def test_burned_in_annotation_of_another_vr_is_written_as_text(deid):
    ds = read_dataset(_with_vr(_mammogram(BurnedInAnnotation="NO"), "BurnedInAnnotation", "US"))
    out = _clean(deid.run(ds))
    written_vr = out["BurnedInAnnotation"].VR
    assert written_vr == "CS" and out.BurnedInAnnotation == "NO"


# -- what the object is ----------------------------------------------------------
def test_file_meta_elements_in_the_data_set_are_quarantined(deid):
    ds = read_dataset(to_bytes(_mammogram()))
    ds.add(DataElement(0x00020100, "UI", "1.2.3.4"))
    _quarantined(deid.run(ds), "file meta")


def test_an_object_without_a_sop_instance_uid_is_quarantined(deid):
    ds = _mammogram()
    del ds.SOPInstanceUID
    _quarantined(deid.run(read_dataset(to_bytes(ds))), "SOP Instance UID")


# -- anything else: one guard around the whole run ----------------------------------
def test_a_value_that_cannot_take_its_pseudonym_is_quarantined(deid, caplog):
    """A UID element stored as a number (DS) cannot hold the keyed UID."""
    data = _with_vr(_mammogram(SeriesInstanceUID="2.25"), "SeriesInstanceUID", "DS")
    with caplog.at_level(logging.DEBUG, logger="sync.deid"):
        outcome = deid.run(read_dataset(data))
    _quarantined(outcome, "malformed content")
    assert "2.25" not in caplog.text and NAME not in caplog.text


def test_an_unexpected_error_while_writing_is_quarantined_and_logged_without_values(
        deid, monkeypatch, caplog):
    def broken(ds: Dataset) -> bytes:
        raise OSError(f"cannot write {PATIENT_ID}")

    monkeypatch.setattr("sync.deid.deidentify.serialize", broken)
    with caplog.at_level(logging.DEBUG, logger="sync.deid"):
        outcome = deid.run(read_dataset(to_bytes(_mammogram())))
    _quarantined(outcome, "malformed content: OSError")
    assert "serialize" in caplog.text or "broken" in caplog.text  # where it happened
    assert PATIENT_ID not in caplog.text
