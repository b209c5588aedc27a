"""Reading element values without pydicom's full conversion.

The harvest and the leak check look at every element of every object; most
of them are plain ASCII text or bytes that nothing changes.  Reading those
straight from the raw element (and leaving them raw, so they are also
written back as they came) is several times faster than converting each to
a Python value.  Non-ASCII text and anything unusual goes through pydicom.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import pydicom
from pydicom.datadict import dictionary_VR, keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.tag import BaseTag
from pydicom.valuerep import PersonName

TEXT_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST",
                      "TM", "UC", "UI", "UR", "UT"})


@dataclass(slots=True)
class Value:
    dataset: pydicom.Dataset
    tag: int
    vr: str
    keyword: str
    path: tuple[int, ...]           # enclosing sequence tags, outermost first
    parent: str                     # where the enclosing item is, "" at the top
    texts: list[str] | None = None  # text values (multi-values split)
    blob: bytes | None = None       # binary value

    @property
    def where(self) -> str:
        """E.g. "(0009,1010)[0] > (0009,1002)": made only when a leak is reported."""
        here = f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"
        here = f"{self.parent} > {here}" if self.parent else here
        return f"{here} {self.keyword}" if self.keyword else here


def _vr(raw: RawDataElement | DataElement, tag: int) -> str:
    vr = raw.VR
    if vr and not (vr == "UN" and isinstance(raw, RawDataElement) and not tag >> 16 & 1):
        return str(vr)
    if tag >> 16 & 1:
        return "UN"
    try:  # implicit VR, or a public attribute sent as UN: the dictionary knows
        known = str(dictionary_VR(tag))
    except KeyError:
        return "UN"
    return known if "or" not in known else "UN"


def _texts(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | PersonName) or not hasattr(value, "__iter__"):
        return [str(value)]
    return [str(v) for v in value]


def _converted(ds: pydicom.Dataset, tag: BaseTag, data: object) -> list[str]:
    """pydicom's reading of a value; a value it cannot read is kept as its raw text."""
    try:
        return _texts(ds[tag].value)
    except Exception:  # malformed values raise ValueError and more
        return [data.decode("latin-1")] if isinstance(data, bytes | bytearray) else []


@functools.lru_cache(maxsize=8192)
def _keyword(tag: int) -> str:
    return "" if tag >> 16 & 1 else keyword_for_tag(tag)


def values(ds: pydicom.Dataset, path: tuple[int, ...] = (), where: str = "",
           text_only: bool = False) -> Iterator[Value]:
    """Every non-sequence element of ``ds`` at every depth, with its value
    (only those with a text VR when ``text_only``)."""
    # The element store itself (pydicom 3's Dataset._dict, tag -> raw or
    # converted element): going through ds.get_item() for each tag costs a
    # Tag object and two lookups per element, a third of the whole walk.
    for tag, raw in list(ds._dict.items()):
        t = int(tag)
        vr = _vr(raw, t)
        if vr == "SQ" or (vr == "UN" and isinstance(raw, RawDataElement)
                          and raw.length == 0xFFFFFFFF):
            try:
                elem = ds[tag]
            except Exception:  # an unreadable sequence: search its bytes as they are
                elem = DataElement(t, "UN", raw.value if isinstance(raw.value, bytes) else b"")
            if elem.VR == "SQ":
                here = f"{where} > {tag}" if where else str(tag)
                for i, item in enumerate(elem.value or ()):
                    yield from values(item, (*path, t), f"{here}[{i}]", text_only)
                continue
            raw, vr = elem, elem.VR
        if text_only and vr not in TEXT_VRS:
            continue
        out = Value(ds, t, vr, _keyword(t), path, where)
        data = raw.value
        if isinstance(raw, RawDataElement) and vr in TEXT_VRS:
            if data is None:
                out.texts = []
            elif data.isascii():
                text = data.decode("ascii").strip(" \0")
                out.texts = text.split("\\") if text else []
            else:  # another character set: let pydicom decode it
                out.texts = _converted(ds, tag, data)
        elif isinstance(data, bytes | bytearray):
            out.blob = bytes(data)
        elif isinstance(raw, RawDataElement):
            out.texts = _converted(ds, tag, data)
        elif isinstance(data, list) and data and isinstance(data[0], bytes | bytearray):
            out.blob = b"".join(data)
        else:
            out.texts = _texts(data)
        yield out
