"""The leak check: finds harvested identifiers anywhere, says where, not what."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from sync.deid.identifiers import Identifiers, harvest
from sync.deid.leakcheck import Scanner


def _keep_nothing(ds, tag, path):  # every element is removed by the profile
    return "X"


def _input() -> Dataset:
    ds = Dataset()
    ds.PatientName = "Quillfeather^Marisol^Ann"
    ds.PatientID = "QX-80417"
    ds.PatientBirthDate = "19610923"
    ds.AccessionNumber = "ACC99231"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.9.7433.77.1"
    return ds


def _scanner() -> Scanner:
    return Scanner(harvest(_input(), _keep_nothing, dates_kept=False))


def _nested_private(value: object, vr: str = "LO") -> Dataset:
    """A value three sequences deep: private SQ > standard SQ > private SQ > private element."""
    inner = Dataset()
    inner.add_new(0x00291010, "LO", "PRIVCO")  # never mind the creator, it is the value
    inner.add_new(0x00291011, vr, value)
    middle = Dataset()
    middle.add_new(0x00290010, "LO", "PRIVCO")
    middle.add_new(0x00291020, "SQ", Sequence([inner]))
    outer = Dataset()
    outer.ReferencedImageSequence = Sequence([middle])
    out = Dataset()
    out.PatientName = "ANON^MDXYZ"
    out.add_new(0x00090010, "LO", "PRIVCO")
    out.add_new(0x00091010, "SQ", Sequence([outer]))
    return out


def test_a_clean_output_passes():
    assert _scanner().scan(_nested_private("nothing to see")) == []


def test_a_value_leaked_in_a_nested_private_element_is_caught_and_located():
    leaks = _scanner().scan(_nested_private("seen QX-80417 at the desk"))
    assert len(leaks) == 1
    where = leaks[0].where
    assert "(0009,1010)[0]" in where and "(0008,1140)[0]" in where
    assert "(0029,1020)[0]" in where and where.endswith("(0029,1011)")
    assert leaks[0].kind == "patient identifier"
    assert "QX-80417" not in str(leaks[0])  # the report names the place, not the value


def test_names_in_other_formats_and_cases_are_caught():
    scanner = _scanner()
    for text in ("MARISOL QUILLFEATHER", "quillfeather, marisol", "Marisol Ann Quillfeather",
                 "Dr QUILLFEATHER said"):
        assert scanner.text_hit(text) == "person name", text


def test_birth_date_in_other_formats_and_original_uids_are_caught():
    scanner = _scanner()
    for text in ("born 23/09/1961", "1961-09-23", "09/23/1961", "23.09.1961"):
        assert scanner.text_hit(text) == "birth date", text
    assert scanner.text_hit("1.2.826.0.1.3680043.9.7433.77.1") == "original UID"
    # A UID that merely starts the same is not the original one.
    assert scanner.text_hit("1.2.826.0.1.3680043.9.7433.77.12") is None


def test_binary_values_are_searched_in_utf8_and_utf16():
    scanner = _scanner()
    assert scanner.scan(_nested_private(b"xx acc99231 xx", "OB"))
    assert scanner.scan(_nested_private("ACC99231".encode("utf-16-le"), "UN"))
    # Large values (pixel data) go through the prefix table: same answers.
    noise = np.random.default_rng(3).integers(0, 4096, 600_000, dtype=np.uint16).tobytes()
    assert scanner.bytes_hit(noise) is None
    planted = noise[:777_777] + b"QUILLFEATHER^MARISOL" + noise[777_777:]
    assert scanner.bytes_hit(planted) == "person name"


def test_file_meta_is_scanned():
    out = _nested_private("clean")
    out.file_meta = Dataset()
    out.file_meta.SourceApplicationEntityTitle = "QX-80417"
    assert [leak.where for leak in _scanner().scan(out)] == [
        "(0002,0016) SourceApplicationEntityTitle"]


def test_large_values_find_identifiers_at_every_offset_and_length():
    ids = Identifiers()
    for value in ("QX-80417", "Z9Q1", "1.2.826.0.1.3680043.9.7433.77.1", "ab12c"):
        ids.add(value, "patient identifier")
    scanner = Scanner(ids)
    noise = np.random.default_rng(5).integers(0, 4096, 70_000, dtype=np.uint16).tobytes()
    assert len(noise) >= 1 << 17
    assert scanner.bytes_hit(noise) is None
    for planted in (b"qx-80417", b"Z9Q1", b"AB12C", "QX-80417".encode("utf-16-le"),
                    b"1.2.826.0.1.3680043.9.7433.77.1"):
        for offset in range(8):
            at = 50_001 + offset
            data = noise[:at] + planted + noise[at:]
            assert scanner.bytes_hit(data) == "patient identifier", (planted, offset)
    # A short number inside a longer one is chance, in large values too.
    number = Identifiers()
    number.add("80417", "patient identifier")
    only_number = Scanner(number)
    assert only_number.bytes_hit(noise) is None
    assert only_number.bytes_hit(noise[:60_000] + b" 980417 " + noise[60_000:]) is None
    assert only_number.bytes_hit(noise[:60_000] + b" 80417 " + noise[60_000:]) == \
        "patient identifier"
