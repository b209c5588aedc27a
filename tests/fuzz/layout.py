"""Where each element of a DICOM file lies: tag, VR, length and value offsets.

The mutators need byte positions, which pydicom does not keep, so this walks the file itself:
the file meta group (always explicit VR little endian), then the data set in the encoding its
transfer syntax names, into sequences, items and encapsulated pixel data fragments.  It is
lenient: damaged input (which is what a fuzzer produces) ends the walk, keeping what was found.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_VR

UNDEFINED = 0xFFFFFFFF
ITEM, ITEM_END, SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
TRANSFER_SYNTAX = 0x00020010
LONG_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"})
IMPLICIT = "1.2.840.10008.1.2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"


@dataclass
class Element:
    start: int  # offset of the tag
    tag: int
    vr: str | None  # None: implicit VR, or an item / delimiter
    vr_offset: int | None
    length_offset: int
    length_size: int  # 2 or 4 bytes
    value_offset: int
    length: int  # as written (UNDEFINED for undefined length)
    end: int  # offset after the value (after the delimiter for undefined lengths)
    little: bool
    depth: int
    fragment: bool = False  # an item of encapsulated pixel data

    @property
    def header_size(self) -> int:
        return self.value_offset - self.start


@dataclass
class Layout:
    data: bytes
    body_offset: int  # where the data set after the file meta starts
    transfer_syntax: str
    elements: list[Element] = field(default_factory=list)
    complete: bool = True  # False when the walk stopped at damage

    def find(self, tag: int) -> Element | None:
        return next((e for e in self.elements if e.tag == tag and not e.fragment), None)

    def top_level(self) -> list[Element]:
        return [e for e in self.elements if e.depth == 0]

    def fragments(self) -> list[Element]:
        return [e for e in self.elements if e.fragment and e.length != UNDEFINED]


MAX_DEPTH = 64  # deeper nesting ends the walk (the worker, not this walk, meets the rest)


class _Stop(Exception):
    pass


def _vr_for(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


class _Walker:
    def __init__(self, layout: Layout, implicit: bool, little: bool) -> None:
        self.layout = layout
        self.data = layout.data
        self.implicit = implicit
        self.little = little

    def _u16(self, pos: int) -> int:
        if pos + 2 > len(self.data):
            raise _Stop
        return struct.unpack_from("<H" if self.little else ">H", self.data, pos)[0]

    def _u32(self, pos: int) -> int:
        if pos + 4 > len(self.data):
            raise _Stop
        return struct.unpack_from("<I" if self.little else ">I", self.data, pos)[0]

    def header(self, pos: int, depth: int, implicit: bool) -> Element:
        tag = (self._u16(pos) << 16) | self._u16(pos + 2)
        if tag >> 16 == 0xFFFE:
            length = self._u32(pos + 4)
            return Element(pos, tag, None, None, pos + 4, 4, pos + 8, length, pos + 8,
                           self.little, depth)
        if implicit:
            length = self._u32(pos + 4)
            return Element(pos, tag, None, None, pos + 4, 4, pos + 8, length, pos + 8,
                           self.little, depth)
        if pos + 6 > len(self.data):
            raise _Stop
        vr = self.data[pos + 4 : pos + 6].decode("latin-1")
        if vr in LONG_VRS:
            length = self._u32(pos + 8)
            return Element(pos, tag, vr, pos + 4, pos + 8, 4, pos + 12, length, pos + 12,
                           self.little, depth)
        length = self._u16(pos + 6)
        return Element(pos, tag, vr, pos + 4, pos + 6, 2, pos + 8, length, pos + 8,
                       self.little, depth)

    def elements(self, pos: int, end: int, depth: int, stop_tag: int | None,
                 group2_only: bool = False, implicit: bool | None = None) -> int:
        """Walk elements from pos until end or stop_tag; return where the walk ended."""
        implicit = self.implicit if implicit is None else implicit
        if depth > MAX_DEPTH:
            raise _Stop
        while pos < end:
            if group2_only and self._u16(pos) != 0x0002:
                return pos
            el = self.header(pos, depth, implicit)
            self.layout.elements.append(el)
            if stop_tag is not None and el.tag == stop_tag:
                el.end = el.value_offset
                return el.end
            vr = el.vr or (_vr_for(el.tag) if el.tag >> 16 != 0xFFFE else None)
            if el.length == UNDEFINED:
                if el.tag == PIXEL_DATA:
                    el.end = self.fragments(el.value_offset, depth + 1)
                elif vr in ("SQ", "UN", None) or el.tag >> 16 == 0xFFFE:
                    el.end = self.items(el.value_offset, len(self.data), depth + 1, SEQ_END,
                                        implicit=implicit or vr == "UN")
                else:
                    raise _Stop
            else:
                el.end = el.value_offset + el.length
                if el.end > len(self.data):
                    raise _Stop
                if vr == "SQ" and el.length:
                    self.items(el.value_offset, el.end, depth + 1, None, implicit=implicit)
            pos = el.end
        return pos

    def items(self, pos: int, end: int, depth: int, stop_tag: int | None,
              implicit: bool) -> int:
        while pos < end:
            el = self.header(pos, depth, True)
            self.layout.elements.append(el)
            if el.tag == (stop_tag or -1):
                return el.value_offset
            if el.tag != ITEM:
                raise _Stop
            if el.length == UNDEFINED:
                el.end = self.elements(el.value_offset, len(self.data), depth + 1, ITEM_END,
                                       implicit=implicit)
            else:
                el.end = el.value_offset + el.length
                self.elements(el.value_offset, el.end, depth + 1, None, implicit=implicit)
            pos = el.end
        return pos

    def fragments(self, pos: int, depth: int) -> int:
        while True:
            el = self.header(pos, depth, True)
            el.fragment = True
            self.layout.elements.append(el)
            if el.tag == SEQ_END:
                return el.value_offset
            if el.tag != ITEM or el.length == UNDEFINED:
                raise _Stop
            el.end = el.value_offset + el.length
            if el.end > len(self.data):
                raise _Stop
            pos = el.end


def _transfer_syntax(layout: Layout) -> str:
    el = layout.find(TRANSFER_SYNTAX)
    if el is None or el.length == UNDEFINED:
        return ""
    raw = layout.data[el.value_offset : el.value_offset + el.length]
    return raw.decode("latin-1").strip("\x00 ")


def parse(data: bytes) -> Layout:
    """The layout of a Part 10 file (or a bare data set); never raises."""
    has_preamble = len(data) >= 132 and data[128:132] == b"DICM"
    start = 132 if has_preamble else 0
    layout = Layout(bytes(data), start, "")
    meta = _Walker(layout, implicit=False, little=True)
    try:
        layout.body_offset = meta.elements(start, len(data), 0, None, group2_only=True)
    except _Stop:
        layout.complete = False
        return layout
    ts = _transfer_syntax(layout)
    layout.transfer_syntax = ts
    if ts == DEFLATED:
        return layout  # the data set is deflated: the mutators treat it as opaque bytes
    if not ts and not has_preamble:
        # A bare data set: explicit VR when a VR-like pair follows the first tag.
        head = data[layout.body_offset + 4 : layout.body_offset + 6]
        ts = IMPLICIT if not (head.isalpha() and head.isupper()) else "1.2.840.10008.1.2.1"
    body = _Walker(layout, implicit=ts == IMPLICIT, little=ts != BIG_ENDIAN)
    try:
        body.elements(layout.body_offset, len(data), 0, None)
    except _Stop:
        layout.complete = False
    return layout
