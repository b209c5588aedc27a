"""The planted-PHI corpus builder (tests/support/deid_corpus.py) itself."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pydicom
import pytest

from tests.support.deid_corpus import Corpus, build_corpus, burned_text_left, find_markers
from tests.support.deid_planting import TEXT_VRS, table_rows, tag_str


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """One synthetic woman, current and prior study: 8 small files."""
    return build_corpus(tmp_path_factory.mktemp("deid-corpus"), patients=1, seed=3)


def _places(corpus: Corpus) -> set[str]:
    return {place for places in corpus.markers.values() for place in places}


def test_every_text_vr_row_of_the_table_got_a_marker(corpus: Corpus) -> None:
    text_rows = {tag for tag, vr in table_rows() if vr in TEXT_VRS}
    assert len(text_rows) > 250  # the 2024b table lists about 300 of them
    assert text_rows <= {t for t in corpus.tags_of_marker.values() if t is not None}
    ds = pydicom.dcmread(corpus.files[0])
    for tag in text_rows:
        value = str(ds[tag].value)
        assert value in corpus.markers, tag_str(tag)
        assert tag_str(tag) in corpus.markers[value]


def test_dates_uids_and_sequences_got_markers_too(corpus: Corpus) -> None:
    places = _places(corpus)
    for tag, vr in table_rows():
        if tag >> 16 == 0x0000 or vr not in {"DA", "DT", "TM", "UI", "SQ"}:
            continue  # command elements cannot be written into a file
        assert (f"{tag_str(tag)} item" if vr == "SQ" else tag_str(tag)) in places
    ds = pydicom.dcmread(corpus.files[0])
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID in corpus.markers
    assert ds.ContentSequence[0].CodeMeaning in corpus.markers


def test_markers_are_unique_and_shared_only_by_one_entity(corpus: Corpus) -> None:
    assert len(set(corpus.markers)) == len(corpus.markers)
    assert len({m.lower() for m in corpus.markers}) == len(corpus.markers)
    per_file = [pydicom.dcmread(p) for p in corpus.files]
    comments = [ds.AcquisitionComments for ds in per_file]
    assert len(set(comments)) == len(comments)  # file-level: one marker per file
    assert len({ds.PatientName for ds in per_file}) == 1  # one woman, both studies
    assert len({ds.PatientBirthDate for ds in per_file}) == 1
    assert list(corpus.patients) == [per_file[0].PatientID]
    studies = Counter(ds.StudyInstanceUID for ds in per_file)
    assert sorted(studies.values()) == [4, 4]
    assert len({ds.StudyDate for ds in per_file}) == 2
    for marker, places in corpus.markers.items():  # one attribute per marker
        tags = {p[:11] for p in places if p.startswith("(")}
        assert len(tags) <= 1 or tags == {"(0008,0018)", "(0002,0003)"}, (marker, places)
    joined = "|".join(corpus.markers).lower()
    assert all(joined.count(m.lower()) == 1 for m in corpus.markers)  # none inside another


def test_find_markers_sees_a_nested_private_marker_in_any_case(corpus: Corpus) -> None:
    nested = [m for m, places in corpus.markers.items() if "nested private" in places]
    assert len(nested) == len(corpus.files)
    data = corpus.files[0].read_bytes()
    present = find_markers(data, corpus.markers)
    assert len(set(nested) & present) == 1
    marker = next(m for m in nested if m in present)
    assert find_markers(data.lower(), [marker]) == {marker}
    assert find_markers(data, [marker.lower(), "PHIZZZZZ"]) == {marker.lower()}
    ds = pydicom.dcmread(corpus.files[0])
    deep = ds[0x00091005][0].ConceptNameCodeSequence[0][0x00091011][0][0x00091010].value
    assert deep == marker


def test_find_markers_needs_a_non_digit_before_a_numeric_marker() -> None:
    assert find_markers(b"\x08\x0019010304", ["19010304"]) == {"19010304"}
    assert find_markers(b"2.25.819010304", ["19010304"]) == set()
    assert find_markers(b"", ["PHI00001"]) == set()


def test_every_planted_marker_is_in_the_files(corpus: Corpus) -> None:
    data = b"".join(p.read_bytes() for p in corpus.files)
    assert find_markers(data, corpus.markers) == set(corpus.markers)
    kinds = Counter(p for places in corpus.markers.values() for p in places
                    if not p.startswith("("))
    for place in ("overlay label", "overlay description", "overlay comments", "curve label",
                  "nested private"):
        assert kinds[place] == len(corpus.files)


def test_files_decode_and_burned_text_is_visible(corpus: Corpus, tmp_path: Path) -> None:
    for path in corpus.files:
        ds = pydicom.dcmread(path)
        assert ds.pixel_array.shape == (ds.Rows, ds.Columns)
        assert ds[0x60003000].value and ds[0x60000010].value == 64
        assert burned_text_left(path, corpus.burned_boxes[path])
    path = corpus.files[0]
    row0, col0, row1, col1 = corpus.burned_boxes[path]
    assert 25 <= row1 - row0 <= 40  # about 3 mm at 0.1 mm pixels
    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array.copy()
    ring = pixels[max(0, row0 - 30):row1 + 30, max(0, col0 - 30):col1 + 30].copy()
    ring[row0 - max(0, row0 - 30):, col0 - max(0, col0 - 30):][:row1 - row0, :col1 - col0] = 0
    assert ring.max() < 0.1 * (2 ** ds.BitsStored - 1)  # background only: no tissue nearby
    pixels[row0:row1, col0:col1] = 0
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    blanked = tmp_path / "blanked.dcm"
    ds.save_as(blanked)
    assert not burned_text_left(blanked, (row0, col0, row1, col1))
    assert corpus.manifest is not None and corpus.manifest.is_file()
    assert corpus.total_bytes == sum(p.stat().st_size for p in corpus.files)


def test_a_planted_date_inside_a_longer_number_is_not_counted() -> None:
    markers = ["19600423", "PHI0021A"]
    assert find_markers(b"x 2.25.196004239200685947 x", markers) == set()
    assert find_markers(b"x 19600423 x phi0021a", markers) == {"19600423", "PHI0021A"}
