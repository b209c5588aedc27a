"""Identifiers planted outside any ordinary element never leave: what is written
is built from the cleaned data set only, and what the one-pass search finds but
no element explains blocks the object."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from sync.deid.deidentify import Deidentifier
from sync.deid.identifiers import harvest
from sync.deid.keys import SiteKeys
from sync.deid.leakcheck import Scanner
from sync.deid.profile import profile_from_settings
from sync.stage_pool import prepare_file
from tests.support.deid_planting import (
    MAY_BE_HELD_BACK,
    OUTSIDE_ID,
    OUTSIDE_NAME,
    leaked,
    outside_element_files,
)
from tests.support.dicom_factory import mg_dataset, to_bytes

FILES = outside_element_files()


@pytest.fixture(scope="module")
def deid() -> Deidentifier:
    return Deidentifier(profile_from_settings({}), SiteKeys(secret=b"s" * 32, map_key=b"m" * 32))


def test_the_planted_files_carry_the_identifiers_where_they_were_put():
    for label, data in FILES.items():
        assert leaked(data), label
    assert FILES["preamble"][:4] == OUTSIDE_NAME.upper().encode()[:4]


@pytest.mark.parametrize("label", sorted(FILES))
def test_staging_writes_nothing_but_the_cleaned_data_set(label, deid, tmp_path):
    path = tmp_path / "in.dcm"
    path.write_bytes(FILES[label])
    prepared = prepare_file(deid, path)
    assert leaked(prepared.data) == [], label
    if label not in MAY_BE_HELD_BACK:
        assert prepared.status == "clean", prepared.reason
    if prepared.status == "clean":
        assert prepared.data[:128] == bytes(128)
        ds = pydicom.dcmread(io.BytesIO(prepared.data))
        assert sorted(int(e.tag) for e in ds.file_meta) == [
            0x00020000, 0x00020001, 0x00020002, 0x00020003, 0x00020010, 0x00020012, 0x00020013]
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_a_rebuilt_image_codestream_still_decodes(deid, tmp_path):
    for label in ("image offset table", "image after the end of the codestream"):
        path = tmp_path / "in.dcm"
        path.write_bytes(FILES[label])
        prepared = prepare_file(deid, path)
        ds = pydicom.dcmread(io.BytesIO(prepared.data))
        pixels = ds.pixel_array
        assert pixels.shape == (256, 256) and pixels.max() == 3000, label


def _person() -> Dataset:
    return mg_dataset(rows=64, cols=64, PatientName=OUTSIDE_NAME, PatientID=OUTSIDE_ID)


def _removed(ds: Dataset, tag: int, path: tuple[int, ...]) -> str:
    return "X" if tag in (0x00100020, 0x0020000D) else "K"  # Patient ID, Study UID


def _scanner() -> Scanner:
    return Scanner(harvest(_person(), _removed, dates_kept=False))


def _output(**attrs: object) -> Dataset:
    """What a de-identified copy of the person looks like: none of her identifiers."""
    return mg_dataset(rows=64, cols=64, PatientName="MDPSEUDO", PatientID="MD0001",
                      PatientBirthDate="19500505", StudyDate="20230303", **attrs)


def test_an_identifier_outside_any_element_blocks_the_object():
    out = _output()
    for planted in (OUTSIDE_ID.encode(), OUTSIDE_NAME.encode().upper(),
                    OUTSIDE_ID.encode("utf-16-le")):
        out.preamble = planted.ljust(128, b"\0")
        leaks = _scanner().check(out, to_bytes(out))
        assert [(leak.where, str(leak)) for leak in leaks] == [
            ("outside any element", f"{leaks[0].kind} in outside any element")]
        assert OUTSIDE_ID not in str(leaks[0]) and "Oake" not in str(leaks[0])
    out.preamble = bytes(128)
    assert _scanner().check(out, to_bytes(out)) == []


def test_what_the_element_walk_excuses_still_passes():
    """A single name part in pixel data is chance; a UID followed by more digits is
    another UID: neither blocks, although the one-pass search stops on both."""
    out = _output()
    noise = np.random.default_rng(1).integers(0, 4096, 64 * 64, dtype=np.uint16).tobytes()
    out.PixelData = noise[:1000] + b"oake" + noise[1004:]
    scanner = _scanner()
    assert not scanner.certainly_clean(to_bytes(out))
    assert scanner.check(out, to_bytes(out)) == []
    original = "1.2.826.0.1.3680043.9.7433.5.77"
    person = _person()
    person.StudyInstanceUID = original
    ids = harvest(person, _removed, dates_kept=False)
    assert original in ids.anywhere
    out.ImageComments = original + "7"
    with_uid = Scanner(ids)
    assert not with_uid.certainly_clean(to_bytes(out))
    assert with_uid.check(out, to_bytes(out)) == []


def test_identifiers_in_element_values_are_still_found_by_element():
    out = _output(ImageComments=f"for {OUTSIDE_ID}")
    leaks = _scanner().check(out, to_bytes(out))
    assert [leak.where for leak in leaks] == ["(0020,4000) ImageComments"]


def test_value_spans_of_a_written_object_are_its_element_values():
    from pydicom.sequence import Sequence
    from pydicom.uid import JPEG2000Lossless

    from sync.deid.spans import value_spans

    out = _output()
    inner = Dataset()
    inner.CodeMeaning = "INNERVALUE"
    item = Dataset()
    item.ConceptNameCodeSequence = Sequence([inner])  # defined length, inside undefined
    out.ContentSequence = Sequence([item])
    out["ContentSequence"].is_undefined_length = True
    pixels = np.zeros((64, 64), np.uint16)
    pixels[10:50, :30] = 3000
    out.PixelData = pixels.tobytes()
    out.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    data = to_bytes(out)
    values = [data[s:e] for s, e in value_spans(data)]
    for expected in (b"MDPSEUDO", b"INNERVALUE", b"MD0001", b"\x00\x01"):
        assert expected in values
    assert values[-1][:4] == b"\xfe\xff\x00\xe0"  # the encapsulated pixel data, items and all
    outside = bytearray(data)
    for s, e in value_spans(data):
        outside[s:e] = b"\0" * (e - s)
    assert b"MDPSEUDO" not in outside and b"INNERVALUE" not in outside
