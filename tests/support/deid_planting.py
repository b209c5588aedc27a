"""Planting helpers for tests/support/deid_corpus.py: marker values and where they go.

Every planted value is a *marker*: a string that occurs nowhere else, so a
byte search over an anonymizer's output tells exactly which planted
identifiers survived.  Shapes (all fixed width, so no marker is a prefix of
another):

* text VRs: ``PHI`` + five base-36 digits, uppercase (``PHI0001Z``);
* UI: ``1.2.826.0.1.3680043.9.7433.<seed>.<6 digits>``;
* TM: ``HHMMSS.ffffff`` with a fraction unique in the corpus;
* DT: a pool date followed by a TM-like time (unique fraction again);
* DA: a pool date.  Pool dates come in clusters of 61 consecutive days whose
  starts lie 800 days apart, so no two pool dates differ by 61-739 days: a
  tool that shifts every date by a couple of months to two years (dicognito
  shifts by 62-730 days) cannot turn one planted date into another.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydicom.datadict import dictionary_VR
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.encaps import generate_fragments
from pydicom.sequence import Sequence
from pydicom.uid import UID, JPEG2000Lossless

from tests.support.dicom_factory import mg_dataset, to_bytes

# The shipped Table E.1-1 (tests/unit/test_deid_table.py checks it row by row
# against the standard's transcription).
TABLE = Path(__file__).resolve().parents[2] / "resources" / "deid" / "annex_e_2024b.json"
UID_ROOT = "1.2.826.0.1.3680043.9.7433."
CREATOR = "PHICORP 1.0"
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT", "UR"})
PLANTED_VRS = TEXT_VRS | {"DA", "DT", "TM", "UI", "SQ"}
MG_CLASS = "1.2.840.10008.5.1.4.1.1.1.2"
MEDIA_SOP_UID = 0x00020003  # file meta: set equal to the SOP Instance UID marker
U_STAR_SEQUENCES = frozenset({0x00081140, 0x00082112})  # items kept, UIDs replaced
_DATE0 = date(1901, 3, 4)

# Which marker a file shares with others: patient-level tags (group 0010) are
# the same for all of one woman's files, study- and series-level ones within
# a study (each phantom study holds one series); everything else is per file.
_STUDY_TAGS = frozenset({0x00080020, 0x00080030, 0x00080050, 0x00080090, 0x00081030, 0x00081048,
                         0x00081060, 0x00200010, 0x0020000D, 0x00081080})
_SERIES_TAGS = frozenset({0x00080021, 0x00080031, 0x0008103E, 0x0020000E, 0x00200052,
                          0x00080080, 0x00080081, 0x00081010, 0x00081040, 0x00181000,
                          0x00081050, 0x00081070, 0x00181030})


def tag_str(tag: int) -> str:
    """``0x00100010`` -> ``"(0010,0010)"``."""
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


@lru_cache(maxsize=2)
def table_rows(path: Path = TABLE) -> tuple[tuple[int, str], ...]:
    """(tag, VR) of every non-wildcard Table E.1-1 row that pydicom's dictionary knows."""
    rows = []
    for row in json.loads(path.read_text(encoding="utf-8"))["rules"]:
        text = row["tag"]
        if not all(c in "0123456789abcdefABCDEF" for c in text):
            continue  # wildcard rows (curves, overlays, private)
        tag = int(text, 16)
        try:
            rows.append((tag, dictionary_VR(tag)))
        except KeyError:
            continue
    return tuple(rows)


def plantable(rows: tuple[tuple[int, str], ...]) -> list[tuple[int, str]]:
    """Rows that get a marker: marker-capable VRs, no command group (0000) elements,
    which dcmwrite refuses; (0002,0003) is handled through the file meta."""
    return [(t, vr) for t, vr in rows
            if vr in PLANTED_VRS and t >> 16 != 0x0000 and t != MEDIA_SOP_UID]


def level_of(tag: int) -> str:
    """The information-model level whose files must share this tag's value."""
    if tag >> 16 == 0x0010:
        return "patient"
    if tag in _STUDY_TAGS or tag >> 16 in (0x0032, 0x0038):
        return "study"
    return "series" if tag in _SERIES_TAGS else "file"


def _b36(n: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out.rjust(width, "0")


@dataclass
class MarkerBook:
    """Hands out unique marker values and records where each one was planted."""

    seed: int
    markers: dict[str, list[str]] = field(default_factory=dict)
    tags: dict[str, int | None] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)
    _shared: dict[tuple[str, int], str] = field(default_factory=dict)

    def _next(self, kind: str) -> int:
        self._counts[kind] = self._counts.get(kind, 0) + 1
        return self._counts[kind]

    def _date(self) -> str:
        n = self._next("date") - 1
        return (_DATE0 + timedelta(days=(n // 61) * 800 + n % 61)).strftime("%Y%m%d")

    def _time(self) -> str:
        f = 100000 + self._next("fraction")
        return f"{(f * 7) % 24:02d}{(f * 13) % 60:02d}{(f * 17) % 60:02d}.{f:06d}"

    def new(self, vr: str) -> str:
        """A fresh marker value that fits ``vr``."""
        if vr == "DA":
            return self._date()
        if vr == "TM":
            return self._time()
        if vr == "DT":
            return self._date() + self._time()
        if vr == "UI":
            return f"{UID_ROOT}{self.seed}.{100000 + self._next('uid')}"
        return "PHI" + _b36(self._next("text"), 5)

    def value(self, key: str, tag: int, vr: str) -> str:
        """The marker for ``tag`` in the entity ``key`` (shared across its files)."""
        if (key, tag) not in self._shared:
            self._shared[(key, tag)] = self.new(vr)
        return self._shared[(key, tag)]

    def record(self, marker: str, place: str, tag: int | None) -> str:
        """Note that ``marker`` sits at ``place``; returns the marker."""
        places = self.markers.setdefault(marker, [])
        if place not in places:
            places.append(place)
        self.tags.setdefault(marker, tag)
        return marker


def _sequence_item(marker_vr: str, marker: str) -> Dataset:
    item = Dataset()
    if marker_vr == "UI":  # U* sequence: a compliant tool keeps the item, replaces the UID
        item.ReferencedSOPClassUID = MG_CLASS
        item.ReferencedSOPInstanceUID = marker
    else:
        item.CodeValue = "4711"
        item.CodingSchemeDesignator = "99SYN"
        item.CodeMeaning = marker
    return item


def plant_table(ds: Dataset, book: MarkerBook, keys: dict[str, str]) -> None:
    """Put a marker into every plantable Table E.1-1 attribute of ``ds``."""
    for tag, vr in plantable(table_rows()):
        key = keys[level_of(tag)]
        if vr == "SQ":
            inner = "UI" if tag in U_STAR_SEQUENCES else "LO"
            marker = book.record(book.value(key, tag, inner), f"{tag_str(tag)} item", tag)
            ds[tag] = DataElement(tag, "SQ", Sequence([_sequence_item(inner, marker)]))
        else:
            ds[tag] = DataElement(tag, vr, book.record(book.value(key, tag, vr), tag_str(tag), tag))
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    book.record(str(ds.SOPInstanceUID), tag_str(MEDIA_SOP_UID), 0x00080018)


def _even(data: bytes) -> bytes:
    return data + b"\0" * (len(data) % 2)


def plant_private(ds: Dataset, book: MarkerBook) -> None:
    """A PHICORP block in group 0009: LO, LT, OB, UN and a marker three sequences deep."""
    block = ds.private_block(0x0009, CREATOR, create=True)
    for offset, vr in ((0x01, "LO"), (0x02, "LT")):
        marker = book.record(book.new("LO"), f"private {tag_str(block.get_tag(offset))}", None)
        block.add_new(offset, vr, marker if vr == "LO" else f"Note for {marker}.")
    marker = book.record(book.new("LO"), f"private {tag_str(block.get_tag(0x03))} OB", None)
    block.add_new(0x03, "OB", _even(b"\x01\x02" + marker.encode() + b"\x00\xff"))
    marker = book.record(book.new("LO"), f"private {tag_str(block.get_tag(0x04))} UN", None)
    block.add_new(0x04, "UN", _even(b"PN=" + marker.encode()))
    deepest = Dataset()
    deepest.private_block(0x0009, CREATOR, create=True).add_new(
        0x10, "LO", book.record(book.new("LO"), "nested private", None))
    middle = Dataset()
    middle.private_block(0x0009, CREATOR, create=True).add_new(0x11, "SQ", Sequence([deepest]))
    outer = Dataset()
    outer.ConceptNameCodeSequence = Sequence([middle])  # a standard SQ between the two
    block.add_new(0x05, "SQ", Sequence([outer]))


def plant_overlay_and_curve(ds: Dataset, book: MarkerBook) -> None:
    """A graphics overlay in group 6000 with text markers, and a curve label."""
    rows, cols = 64, 128
    bits = np.zeros((rows, cols), dtype=bool)
    bits[8:56, 8:120] = True
    bits[16:48, 16:112] = False
    data = np.packbits(bits.ravel(), bitorder="little").tobytes()
    for tag, vr, value in ((0x60000010, "US", rows), (0x60000011, "US", cols),
                           (0x60000040, "CS", "G"), (0x60000050, "SS", [1, 1]),
                           (0x60000100, "US", 1), (0x60000102, "US", 0),
                           (0x60003000, "OW", _even(data))):
        ds.add_new(tag, vr, value)
    for tag, vr, place in ((0x60000022, "LO", "overlay description"),
                           (0x60001500, "LO", "overlay label"),
                           (0x60004000, "LT", "overlay comments"),
                           (0x50002500, "LO", "curve label")):
        ds.add_new(tag, vr, book.record(book.new("LO"), place, None))


def text_mask(text: str, height_px: int) -> np.ndarray:
    """``text`` in Pillow's default font, scaled (nearest) to about ``height_px`` rows."""
    font = ImageFont.load_default()
    right, bottom = font.getbbox(text)[2:]
    canvas = Image.new("L", (right + 4, bottom + 4), 0)
    ImageDraw.Draw(canvas).text((2, 2), text, fill=255, font=font)
    ink = np.asarray(canvas) > 127
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    scale = max(1, round(height_px / ink.shape[0]))
    return np.kron(ink, np.ones((scale, scale), dtype=bool))


def burn_text(ds: Dataset, text: str, height_mm: float = 3.0) -> tuple[int, int, int, int]:
    """Burn ``text`` into a background corner of ``ds`` at the brightest displayed value.

    Returns the ink box (row0, col0, row1, col1), ends exclusive.  Raises
    RuntimeError when no corner is clear of tissue.
    """
    pixels = ds.pixel_array.copy()
    spacing = float(ds.get("PixelSpacing", [0.1])[0])
    mask = text_mask(text, round(height_mm / spacing))
    h, w = mask.shape
    lo, hi = np.percentile(pixels, [1.0, 99.5])
    inverted = ds.PhotometricInterpretation == "MONOCHROME1"
    tissue = pixels < hi - 0.15 * (hi - lo) if inverted else pixels > lo + 0.15 * (hi - lo)
    margin = h
    n_rows, n_cols = pixels.shape
    for r0 in (margin, n_rows - margin - h):
        for c0 in (margin, n_cols - margin - w):
            if not tissue[r0 - margin:r0 + h + margin, c0 - margin:c0 + w + margin].any():
                value = 0 if inverted else 2 ** int(ds.BitsStored) - 1
                pixels[r0:r0 + h, c0:c0 + w][mask] = value
                ds.PixelData = pixels.tobytes()
                return r0, c0, r0 + h, c0 + w
    raise RuntimeError("no background corner is clear of tissue for burned-in text")


# -- identifiers outside any element ------------------------------------------
# A synthetic woman whose name and ID are planted where no element holds them.
OUTSIDE_NAME = "Oake^Verity"
OUTSIDE_ID = "SYN-7731-Q"
_ITEM_END = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00"
_SEQ_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def outside_needles() -> list[bytes]:
    """The planted identifiers as they may appear: lower case, UTF-8 and UTF-16."""
    texts = [OUTSIDE_NAME, OUTSIDE_ID, "Verity Oake", "Oake"]
    return [t.lower().encode(e) for t in texts for e in ("utf-8", "utf-16-le")]


def leaked(data: bytes) -> list[bytes]:
    low = data.lower()
    return [n for n in outside_needles() if n in low]


def outside_person_image(sop_class: str = MG_CLASS) -> Dataset:
    """A small synthetic image with a breast-like bright region (so it can be cleaned)."""
    ds = mg_dataset(rows=256, cols=256, PatientName=OUTSIDE_NAME, PatientID=OUTSIDE_ID)
    pixels = np.full((256, 256), 100, np.uint16)
    pixels[40:220, 0:150] = 3000
    ds.PixelData = pixels.tobytes()
    if sop_class != MG_CLASS:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.BurnedInAnnotation = "NO"
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = "R-10242", "SRT", "cc"
    ds.ViewCodeSequence = Sequence([item])
    ds["ViewCodeSequence"].is_undefined_length = True
    item.is_undefined_length_sequence_item = True
    return ds


def _written(ds: Dataset) -> bytes:
    return to_bytes(ds)


Parts = Callable[[bytes], tuple[bytes, list[bytes]]]


def _encapsulated(sop_class: str, parts: Parts) -> bytes:
    """A JPEG 2000 image whose encapsulation ``parts(codestream)`` gives as
    (offset table, fragments)."""
    ds = outside_person_image(sop_class)
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    frame = b"".join(list(generate_fragments(ds.PixelData))[1:])
    bot, fragments = parts(frame)
    value = b"\xfe\xff\x00\xe0" + len(bot).to_bytes(4, "little") + bot
    for fragment in fragments:
        fragment = _even(fragment)
        value += b"\xfe\xff\x00\xe0" + len(fragment).to_bytes(4, "little") + fragment
    ds.PixelData = value
    ds["PixelData"].is_undefined_length = True
    return _written(ds)


def outside_element_files() -> dict[str, bytes]:
    """Part 10 files of one synthetic woman, each with her name or ID planted in a
    place that is not an ordinary element, by the name of that place."""
    name = OUTSIDE_NAME.upper().encode()
    ident = OUTSIDE_ID.encode()
    files: dict[str, bytes] = {}
    ds = outside_person_image()
    ds.preamble = (name + b" " + ident).ljust(128, b"\0")
    files["preamble"] = _written(ds)
    ds = outside_person_image()
    ds.file_meta.add_new(0x00020100, "UI", UID("1.2.826.0.1.3680043.9.7433.1"))
    ds.file_meta.add_new(0x00020102, "OB", _even(b"private " + ident))
    files["file meta private"] = _written(ds)
    ds = outside_person_image()
    ds.file_meta.add_new(0x00020099, "LO", OUTSIDE_NAME)  # not in the standard
    ds.file_meta.SourceApplicationEntityTitle = OUTSIDE_ID
    files["file meta unknown"] = _written(ds)
    # pydicom stops reading at a stray item delimiter: what follows is no element.
    files["after the data set"] = (_written(outside_person_image()) + _ITEM_END
                                   + _even(name + b" " + ident))
    ds = outside_person_image()
    ds.add_new(0xFFFCFFFC, "OB", _even(b"\0" * 16 + name))  # Data Set Trailing Padding
    files["trailing padding"] = _written(ds)
    # Delimiter lengths (always zero) carrying a name part; pydicom ignores them.
    plain = _written(outside_person_image())
    files["delimiter lengths"] = (plain.replace(_ITEM_END, _ITEM_END[:4] + b"OAKE")
                                  .replace(_SEQ_END, _SEQ_END[:4] + b"Oake"))
    assert files["delimiter lengths"] != plain
    dx = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray: its codestream is kept
    for label, sop in (("mammogram", MG_CLASS), ("image", dx)):
        files[f"{label} offset table"] = _encapsulated(
            sop, lambda f: (_even(ident).ljust(12, b"\0"), [f]))
        files[f"{label} after the last fragment"] = _encapsulated(
            sop, lambda f: (b"", [f[:len(f) // 2 & ~1], f[len(f) // 2 & ~1:], name]))
        files[f"{label} after the end of the codestream"] = _encapsulated(
            sop, lambda f: (b"", [f + b"\0" + name]))
        files[f"{label} between fragments"] = _encapsulated(
            sop, lambda f: (b"", [f[:len(f) // 2 & ~1], name, f[len(f) // 2 & ~1:]]))
    return files


# What cannot be cleaned (a name inside a codestream) may be blocked; the rest
# must come out, cleaned.
MAY_BE_HELD_BACK = frozenset({"mammogram between fragments", "image between fragments"})
