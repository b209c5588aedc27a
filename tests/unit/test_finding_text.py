"""A finding as one line of words (the command line's form) and in words for people."""

from __future__ import annotations

import pytest

from engine.errors import MammoDeskError
from engine.library.reads import Finding
from engine.reading.finding_text import describe_finding, format_finding, parse_finding


def test_the_example_reads_as_a_structured_finding():
    f = parse_finding("R mass oval circumscribed 12mm 10:00 middle")
    assert f == Finding("R", "mass", size_mm=12.0, descriptors=["oval", "circumscribed"],
                        clock="10:00", depth="middle")


@pytest.mark.parametrize("text,kind", [
    ("L architectural distortion", "architectural distortion"),
    ("l Distortion", "architectural distortion"),
    ("right calcifications", "calcifications"),
    ("left asymmetry", "asymmetry"),
    ("R other", "other"),
])
def test_types_and_sides_in_their_spellings(text, kind):
    f = parse_finding(text)
    assert f.kind == kind and f.side in ("R", "L")


@pytest.mark.parametrize("word,clock", [
    ("10", "10:00"), ("10:00", "10:00"), ("10:30", "10:30"), ("1", "1:00"),
    ("retroareolar", "retroareolar"), ("axillary-tail", "axillary tail"),
])
def test_clock_face_positions(word, clock):
    assert parse_finding(f"R mass {word}").clock == clock


def test_words_in_any_order_with_nipple_distance_and_associated_features():
    f = parse_finding("L calcifications 40mm-from-nipple segmental Fine-Pleomorphic posterior "
                      "skin-retraction 8.5mm 2:30")
    assert f.descriptors == ["segmental", "fine-pleomorphic", "skin-retraction"]
    assert (f.nipple_mm, f.size_mm, f.depth, f.clock) == (40.0, 8.5, "posterior", "2:30")


@pytest.mark.parametrize("text", [
    "R mass oval circumscribed 12mm 10:00 middle",
    "L architectural distortion skin-retraction 10:30 posterior 40mm-from-nipple",
    "R calcifications amorphous grouped central",
    "L asymmetry developing 7mm axillary-tail",
])
def test_format_reads_back_the_same(text):
    f = parse_finding(text)
    assert format_finding(f) == text
    assert parse_finding(format_finding(f)) == f


@pytest.mark.parametrize("text,message", [
    ("", "a finding is a line of words"),
    ("X mass", "starts with its side"),
    ("R", "names its type"),
    ("R lump", "names its type .*not 'lump'"),
    ("R mass spiky", "unknown word 'spiky' in a mass finding: expected a descriptor of mass"),
    ("R mass segmental", "unknown word 'segmental'"),  # a calcification word, not a mass's
    ("R mass 10:75", "unknown word '10:75'.*clock-face position"),
    ("R mass 13", "unknown word '13'"),
    ("R mass 12mm 14mm", "one size"),
    ("R mass anterior middle", "one depth"),
    ("R mass 10 11", "one clock-face position"),
    ("R mass 0mm", "size must be between 0 and 1000 mm"),
])
def test_bad_text_is_one_line_naming_the_word(text, message):
    with pytest.raises(MammoDeskError, match=message) as refused:
        parse_finding(text)
    assert "\n" not in str(refused.value)


def test_described_for_people():
    f = parse_finding("L mass irregular spiculated 12mm 10:00 middle 40mm-from-nipple")
    assert describe_finding(f) == ("left mass, irregular, spiculated, 12 mm, 10 o'clock, "
                                   "middle depth, 40 mm from the nipple")
    old = Finding("R", "calcifications", location="upper outer quadrant", note="stable")
    assert describe_finding(old) == "right calcifications, upper outer quadrant, stable"
