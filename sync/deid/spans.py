"""Where the element values lie in a written object (DICOM Part 10 bytes).

The leak check searches every element value; the bytes around them (the
preamble, the "DICM" prefix, tags, VRs, lengths, item and sequence
delimiters, anything after the data set) are nobody's value.  An identifier
found there, or straddling two values, cannot be attributed to an element
and must block the object.  MammoDesk writes explicit VR little endian only
(big endian input is quarantined), so that is all this reads.
"""

from __future__ import annotations

import bisect
import struct

PREAMBLE = 128
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN",
                       b"UR", b"UT", b"UV"})
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD


class Unparsable(ValueError):
    """The bytes are not explicit VR little endian DICOM as MammoDesk writes it."""


def _tag(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise Unparsable("cut short")
    group, element = struct.unpack_from("<HH", data, at)
    return group << 16 | element


def _length(data: bytes, at: int) -> int:
    if at + 4 > len(data):
        raise Unparsable("cut short")
    return int(struct.unpack_from("<I", data, at)[0])


def _delimited_end(data: bytes, at: int) -> int:
    """End of an undefined-length non-sequence value (encapsulated pixel data): the
    offset of its sequence delimiter."""
    while True:
        tag = _tag(data, at)
        if tag == _SEQ_END:
            return at
        if tag != _ITEM:
            raise Unparsable("not an item inside encapsulated data")
        at += 8 + _length(data, at + 4)


def _elements(data: bytes, at: int, end: int | None, spans: list[tuple[int, int]],
              depth: int = 0) -> int:
    """Read elements from ``at`` up to ``end`` (or an item delimiter when None);
    collect value spans; return where reading stopped (after the delimiter)."""
    if depth > 64:
        raise Unparsable("nested too deep")
    limit = len(data) if end is None else end
    while at < limit:
        tag = _tag(data, at)
        if tag == _ITEM_END and end is None:
            return at + 8
        vr = data[at + 4:at + 6]
        if vr in _LONG_VRS:
            length, head = _length(data, at + 8), 12
        elif len(vr) == 2 and vr.isalpha() and vr.isupper():
            length, head = int(struct.unpack_from("<H", data, at + 6)[0]), 8
        else:
            raise Unparsable("not explicit VR")
        at += head
        if vr == b"SQ":
            at = _items(data, at, None if length == _UNDEFINED else at + length, spans, depth)
        elif length == _UNDEFINED:
            stop = _delimited_end(data, at)
            spans.append((at, stop))
            at = stop + 8
        else:
            if at + length > len(data):
                raise Unparsable("value cut short")
            spans.append((at, at + length))
            at += length
    if end is None:
        raise Unparsable("no item delimiter")
    return at


def _items(data: bytes, at: int, end: int | None, spans: list[tuple[int, int]],
           depth: int) -> int:
    limit = len(data) if end is None else end
    while at < limit:
        tag, length = _tag(data, at), _length(data, at + 4)
        at += 8
        if tag == _SEQ_END and end is None:
            return at
        if tag != _ITEM:
            raise Unparsable("not an item in a sequence")
        at = _elements(data, at, None if length == _UNDEFINED else at + length, spans,
                       depth + 1)
    if end is None:
        raise Unparsable("no sequence delimiter")
    return at


def value_spans(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every element value in ``data``, in order."""
    if len(data) < PREAMBLE + 4 or data[PREAMBLE:PREAMBLE + 4] != b"DICM":
        raise Unparsable("no DICOM prefix")
    spans: list[tuple[int, int]] = []
    _elements(data, PREAMBLE + 4, len(data), spans)
    return spans


class Spans:
    """Answers whether a byte range lies inside one element value."""

    def __init__(self, data: bytes) -> None:
        try:
            spans = value_spans(data)
        except (Unparsable, struct.error):
            spans = []  # nothing can be attributed: every hit is outside
        self._starts = [s for s, _ in spans]
        self._ends = [e for _, e in spans]

    def inside_one(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self._starts, start) - 1
        return i >= 0 and end <= self._ends[i]
