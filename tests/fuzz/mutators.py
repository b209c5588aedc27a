"""Structure-aware mutations of DICOM files, chosen by Hypothesis so failures shrink.

A mutant is a seed plus one to four operations, each aimed at what the layout walk found:
an element's length, VR or tag, the transfer syntax, a codestream header, an image attribute,
the end of the file, or a splice with another seed.  Hypothesis draws every choice, so a
failing mutant shrinks towards fewer operations on the first (smallest) seed.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from hypothesis import strategies as st

from tests.fuzz import codestreams
from tests.fuzz.layout import (
    BIG_ENDIAN,
    IMPLICIT,
    ITEM,
    LONG_VRS,
    SEQ_END,
    TRANSFER_SYNTAX,
    UNDEFINED,
    Element,
    Layout,
    parse,
)

Draw = Callable[[st.SearchStrategy], object]

_VR_TEXT = "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI"
VRS = (*_VR_TEXT.split(" "), "UL", "UN", "UR", "US", "UT", "UV", "XX", "\x00\x00", "ob")
TRANSFER_SYNTAXES = (
    IMPLICIT, "1.2.840.10008.1.2.1", BIG_ENDIAN, "1.2.840.10008.1.2.1.99",  # deflate
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.100",  # MPEG2
    "1.2.3.4.5.6.7", "", "1.2.840.10008.1.2.1\x00\x00", "not a uid",
)
# Image attributes (keyword -> tag, VR) and values that stress the decoders.
IMAGE_ATTRS = {
    "Rows": (0x00280010, "US"), "Columns": (0x00280011, "US"),
    "BitsAllocated": (0x00280100, "US"), "BitsStored": (0x00280101, "US"),
    "HighBit": (0x00280102, "US"), "PixelRepresentation": (0x00280103, "US"),
    "SamplesPerPixel": (0x00280002, "US"), "PlanarConfiguration": (0x00280006, "US"),
    "NumberOfFrames": (0x00280008, "IS"), "PhotometricInterpretation": (0x00280004, "CS"),
}
US_VALUES = (0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 24, 32, 33, 64, 255, 256, 513, 0x7FFF,
             0x8000, 0xFFFF)
TEXT_VALUES = {
    "IS": ("0", "-1", "2", "3", "1000", "99999999", "1e9", "abc", "", "1\\2"),
    "CS": ("MONOCHROME1", "MONOCHROME2", "RGB", "YBR_FULL", "YBR_FULL_422", "PALETTE COLOR",
           "YBR_RCT", "", "BOGUS"),
    "DS": ("0", "-1", "nan", "inf", "1e308", "-1e308", "1e-300", "0\\0", "abc", "", "4096"),
}
# Display, AI and de-identification inputs: (tag, VR).
TEXT_ATTRS = {
    "WindowCenter": (0x00281050, "DS"), "WindowWidth": (0x00281051, "DS"),
    "RescaleIntercept": (0x00281052, "DS"), "RescaleSlope": (0x00281053, "DS"),
    "PixelSpacing": (0x00280030, "DS"), "ImagerPixelSpacing": (0x00181164, "DS"),
    "PatientOrientation": (0x00200020, "CS"), "ImageLaterality": (0x00200062, "CS"),
    "ViewPosition": (0x00185101, "CS"), "Modality": (0x00080060, "CS"),
    "SpecificCharacterSet": (0x00080005, "CS"), "SOPClassUID": (0x00080016, "UI"),
    "SOPInstanceUID": (0x00080018, "UI"), "PresentationIntentType": (0x00080068, "CS"),
}
TEXT_ATTR_VALUES = ("", "0", "nan", "-1e308", "0\\0", "A\\P", "P\\\\", "L\\R\\X", "ISO 2022 IR 87",
                    "ISO_IR 192", "BOGUS", "1.2.840.10008.5.1.4.1.1.1.2", "\xff\xfe\x00",
                    "MG\\CT", "x" * 300)
# Tags a mutated element may take.
RETAGS = (0x00280010, 0x00280011, 0x00280100, 0x7FE00010, 0x00020010, 0x00020000, 0x00080016,
          0x00080018, 0x00100010, 0x00100020, 0x0040A730, 0x00540220, 0xFFFEE000, 0xFFFEE0DD,
          0xFFFEE00D, 0x00090010, 0x00091001, 0x00000000, 0xFFFFFFFF)
INTERESTING_U32 = (0, 1, 2, 7, 8, 0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
                   0xFFFFFFFE, 0xFFFFFFFF)


class Seed:
    """A named seed file.  (Plain classes: Hypothesis would print a dataclass's bytes.)"""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def __repr__(self) -> str:
        return f"Seed({self.name!r}, {len(self.data)} bytes)"


class Mutant:
    def __init__(self, seed: str, operations: tuple[str, ...], data: bytes) -> None:
        self.seed, self.operations, self.data = seed, operations, data

    def __repr__(self) -> str:
        return f"Mutant({self.describe()!r}, {len(self.data)} bytes)"

    def describe(self) -> str:
        return f"{self.seed}: " + "; ".join(self.operations)


# -- byte helpers --------------------------------------------------------------------------


def _pack(value: int, size: int, big: bool) -> bytes:
    fmt = {1: "B", 2: "H", 4: "I"}[size]
    return struct.pack((">" if big else "<") + fmt, value & ((1 << (8 * size)) - 1))


def _put(data: bytes, offset: int, raw: bytes) -> bytes:
    return data[:offset] + raw + data[offset + len(raw):]


def _implicit(layout: Layout, el: Element) -> bool:
    return el.vr is None and el.tag >> 16 != 0xFFFE and el.start >= layout.body_offset


def _header(tag: int, vr: str | None, length: int, little: bool) -> bytes:
    end = "<" if little else ">"
    head = struct.pack(end + "HH", tag >> 16, tag & 0xFFFF)
    if vr is None or tag >> 16 == 0xFFFE:
        return head + struct.pack(end + "I", length & 0xFFFFFFFF)
    raw_vr = vr.encode("latin-1")[:2].ljust(2, b" ")
    if vr in LONG_VRS:
        return head + raw_vr + b"\x00\x00" + struct.pack(end + "I", length & 0xFFFFFFFF)
    return head + raw_vr + struct.pack(end + "H", length & 0xFFFF)


def _fix_containers(data: bytes, layout: Layout, el: Element, delta: int) -> bytes:
    """Grow or shrink every defined-length sequence / item around el, and the meta group
    length, by delta; so a consistent edit stays consistent."""
    for outer in layout.elements:
        if outer is el or outer.length in (UNDEFINED, 0) or outer.length_size != 4:
            continue
        if outer.value_offset <= el.start < outer.value_offset + outer.length:
            data = _put(data, outer.length_offset,
                        _pack(outer.length + delta, 4, not outer.little))
    group_length = layout.find(0x00020000)
    if el.tag >> 16 == 0x0002 and group_length is not None and group_length.length == 4:
        (value,) = struct.unpack_from("<I", data, group_length.value_offset)
        data = _put(data, group_length.value_offset, _pack(value + delta, 4, False))
    return data


def _replace_value(data: bytes, layout: Layout, el: Element, value: bytes, fix: bool) -> bytes:
    if el.length == UNDEFINED:
        return data
    if len(value) % 2:
        value += b"\x00" if el.vr in ("UI", "OB", "UN", None) else b" "
    if el.length_size == 2 and len(value) > 0xFFFF:
        value = value[:0xFFFE]
    new = data[: el.value_offset] + value + data[el.value_offset + el.length:]
    new = _put(new, el.length_offset, _pack(len(value), el.length_size, not el.little))
    return _fix_containers(new, layout, el, len(value) - el.length) if fix else new


def _encode(vr: str, value: object, little: bool) -> bytes:
    if vr == "US":
        return _pack(int(value), 2, not little)  # type: ignore[call-overload]
    return str(value).encode("latin-1")


# -- operations: each takes (draw, layout, seeds) and returns (bytes, description) ---------


def op_length(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    el = draw(st.sampled_from(layout.elements))
    old = el.length
    limit = 0xFFFF if el.length_size == 2 else 0xFFFFFFFF
    choices = [0, old | 1, old + 1, old - 1, old + 8, old - 8, old * 2, limit, limit - 1,
               0x7FFFFFFF, len(layout.data)]
    new = draw(st.sampled_from(choices) | st.integers(0, limit)) & limit
    data = _put(layout.data, el.length_offset, _pack(new, el.length_size, not el.little))
    return data, f"length of {el.tag:08X}@{el.start} {old}->{new}"


def op_vr(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    explicit = [e for e in layout.elements if e.vr is not None]
    if not explicit:
        return op_length(draw, layout, seeds)
    el = draw(st.sampled_from(explicit))
    vr = draw(st.sampled_from(VRS))
    if draw(st.booleans()):  # only the two bytes: the length field is now read another way
        data = _put(layout.data, el.vr_offset or el.start + 4, vr.encode("latin-1")[:2])
        return data, f"VR of {el.tag:08X} {el.vr}->{vr!r} (bytes only)"
    header = _header(el.tag, vr, el.length, el.little)
    data = layout.data[: el.start] + header + layout.data[el.value_offset:]
    return data, f"VR of {el.tag:08X} {el.vr}->{vr!r} (header rewritten)"


def op_tag(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    elements = [e for e in layout.elements if not e.fragment]
    el = draw(st.sampled_from(elements))
    raw = layout.data[el.start : el.end]
    how = draw(st.sampled_from(["duplicate", "reorder", "private", "meta", "retag", "delete"]))
    data = layout.data
    if how == "duplicate":
        data = data[: el.end] + raw + data[el.end:]
    elif how == "reorder":
        nxt = next((e for e in elements if e.start == el.end and e.depth == el.depth), None)
        if nxt is None:
            return data, "reorder (no neighbour)"
        data = data[: el.start] + data[nxt.start : nxt.end] + raw + data[nxt.end:]
    elif how == "delete":
        data = data[: el.start] + data[el.end:]
    else:
        if how == "private":
            group = draw(st.sampled_from([0x0009, 0x0029, 0x7FE1, 0xFFFF, 0x0001]))
            tag = (group << 16) | (el.tag & 0xFFFF)
        elif how == "meta":
            tag = 0x00020000 | (el.tag & 0xFFFF)
        else:
            tag = draw(st.sampled_from(RETAGS))
        data = _put(data, el.start, _header(tag, None, 0, el.little)[:4])
        return data, f"tag {el.tag:08X}->{tag:08X}"
    return data, f"{how} {el.tag:08X}@{el.start}"


def op_transfer_syntax(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    el = layout.find(TRANSFER_SYNTAX)
    if el is None:
        return op_tag(draw, layout, seeds)
    uid = draw(st.sampled_from(TRANSFER_SYNTAXES))
    fix = draw(st.booleans())
    data = _replace_value(layout.data, layout, el, uid.encode("latin-1"), fix)
    return data, f"transfer syntax -> {uid!r}{'' if fix else ' (group length stale)'}"


def op_codestream(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    frags = [f for f in layout.fragments()[1:] if f.length > 0]  # [0]: offset table
    if not frags:
        return op_image_attr(draw, layout, seeds)
    frag = draw(st.sampled_from(frags))
    frame = layout.data[frag.value_offset : frag.value_offset + frag.length]
    found = codestreams.fields(frame, layout.transfer_syntax)
    if not found:
        return op_image_attr(draw, layout, seeds)
    offset, size, big, name = draw(st.sampled_from(found))
    (old,) = struct.unpack_from((">" if big else "<") + {1: "B", 2: "H", 4: "I"}[size],
                                frame, offset)
    value = draw(st.sampled_from([0, 1, old + 1, old - 1, old * 2, old * 16, 0x7F, 0x80, 0xFF,
                                  0xFFFF, 0x10000, 0xFFFFFFFF]) | st.integers(0, 255))
    data = _put(layout.data, frag.value_offset + offset, _pack(value, size, big))
    return data, f"codestream {name} {old}->{value & ((1 << (8 * size)) - 1)}"


def op_image_attr(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    name = draw(st.sampled_from(sorted(IMAGE_ATTRS)))
    tag, vr = IMAGE_ATTRS[name]
    el = layout.find(tag)
    if el is None:
        return layout.data, f"{name} absent"
    value = draw(st.sampled_from(US_VALUES if vr == "US" else TEXT_VALUES[vr]))
    data = _replace_value(layout.data, layout, el, _encode(vr, value, el.little), fix=True)
    return data, f"{name} -> {value!r}"


def op_text_attr(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    name = draw(st.sampled_from(sorted(TEXT_ATTRS)))
    tag, _vr = TEXT_ATTRS[name]
    el = layout.find(tag)
    if el is None:
        return layout.data, f"{name} absent"
    value = draw(st.sampled_from(TEXT_ATTR_VALUES))
    data = _replace_value(layout.data, layout, el, value.encode("latin-1"), fix=True)
    return data, f"{name} -> {value[:20]!r}"


def op_truncate(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    size = len(layout.data)
    if draw(st.booleans()) and layout.elements:
        el = draw(st.sampled_from(layout.elements))
        cut = el.start + draw(st.sampled_from([0, 1, 4, 6, 8, el.header_size + 1, -1, -2]))
    else:
        cut = draw(st.integers(0, max(size - 1, 0)))
    cut = min(max(cut, 0), size)
    return layout.data[:cut], f"truncated at {cut} of {size}"


def op_splice(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    other = draw(st.sampled_from(list(seeds)))
    theirs = parse(other.data).elements
    if not layout.elements or not theirs:
        return layout.data, "splice (nothing to splice)"
    mine = draw(st.sampled_from(layout.elements))
    from_other = draw(st.sampled_from(theirs))
    data = layout.data[: mine.start] + other.data[from_other.start:]
    return data, f"splice at {mine.start} with {other.name} from {from_other.start}"


def op_nest(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    """Insert a deeply nested undefined-length sequence (private tag) before an element."""
    body = [e for e in layout.top_level() if e.start >= layout.body_offset]
    if not body:
        return layout.data, "nest (no body)"
    el = draw(st.sampled_from(body))
    depth = draw(st.sampled_from([2, 50, 400, 3000]))
    little = el.little
    implicit = _implicit(layout, el)
    vr = None if implicit else "SQ"
    open_ = _header(0x00091010, vr, UNDEFINED, little) + _header(ITEM, None, UNDEFINED, little)
    close = _header(0xFFFEE00D, None, 0, little) + _header(SEQ_END, None, 0, little)
    creator = _header(0x00090010, None if implicit else "LO", 4, little) + b"FUZZ"
    nested = creator + open_ * depth + close * depth
    data = layout.data[: el.start] + nested + layout.data[el.start:]
    return data, f"nested private sequence, depth {depth}, before {el.tag:08X}"


def op_bytes(draw: Draw, layout: Layout, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    size = len(layout.data)
    if not size:
        return layout.data, "bytes (empty)"
    offset = draw(st.integers(0, size - 1))
    raw = draw(st.sampled_from([b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff\xff\xff",
                                b"\x00\x00\x00\x00", b"\xfe\xff\x00\xe0"]))
    return _put(layout.data, offset, raw)[:size], f"bytes {raw.hex()} at {offset}"


OPERATIONS = {
    "length": op_length, "vr": op_vr, "tag": op_tag, "transfer_syntax": op_transfer_syntax,
    "codestream": op_codestream, "image_attr": op_image_attr, "text_attr": op_text_attr,
    "truncate": op_truncate, "splice": op_splice, "nest": op_nest, "bytes": op_bytes,
}


def apply(data: bytes, name: str, draw: Draw, seeds: Sequence[Seed]) -> tuple[bytes, str]:
    layout = parse(data)
    if not layout.elements and name not in ("truncate", "bytes", "splice"):
        name = "bytes"
    return OPERATIONS[name](draw, layout, seeds)


@st.composite
def mutants(draw: Draw, seeds: Sequence[Seed], max_operations: int = 4) -> Mutant:
    """A seed (the first ones are the smallest, so shrinking prefers them) and 1..n operations."""
    seed = draw(st.sampled_from(list(seeds)))
    count = draw(st.integers(1, max_operations))
    data, done = seed.data, []
    for _ in range(count):
        name = draw(st.sampled_from(list(OPERATIONS)))
        data, what = apply(data, name, draw, seeds)
        done.append(what)
    return Mutant(seed.name, tuple(done), data)
