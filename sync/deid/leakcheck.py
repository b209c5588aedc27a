"""The leak check: every element of an output object, at every depth (file
meta, private elements, UN/OB/OW and pixel data included), searched for the
identifiers harvested from its input.  Any hit blocks the object.

Text values are searched as text; binary values as bytes, in UTF-8 and
UTF-16LE, case-insensitively.  A hit is reported by element path and kind of
identifier, never by value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataelem import DataElement
from pydicom.valuerep import PersonName

from sync.deid.identifiers import Identifiers

LARGE = 1 << 16  # bytes: above this, search through a prefix table


@dataclass(frozen=True)
class Leak:
    where: str  # e.g. "(0009,1010)[0] > (0009,1002)"
    kind: str   # e.g. "person name", "original UID"

    def __str__(self) -> str:
        return f"{self.kind} in {self.where}"


def _pattern(needle: str) -> str:
    body = re.escape(needle)
    if re.fullmatch(r"[0-9.]+", needle):
        # A number or UID counts only as a whole: 1234 inside 2.25.9912345 is chance.
        return rf"(?<![0-9.]){body}(?![0-9])"
    return body


class Scanner:
    def __init__(self, ids: Identifiers) -> None:
        self.ids = ids
        self._kinds = {**ids.anywhere, **ids.in_text}
        anywhere = sorted(ids.anywhere, key=len, reverse=True)
        text_all = sorted({*ids.anywhere, *ids.in_text}, key=len, reverse=True)
        self._text = re.compile("|".join(map(_pattern, text_all))) if text_all else None
        binary = [_pattern(n).encode("utf-8") for n in anywhere]
        binary += [re.escape(n.encode("utf-16-le")) for n in anywhere]
        self._bytes = re.compile(b"|".join(binary)) if binary else None
        # For large values (pixel data): a table of every needle's first two
        # bytes finds the few places worth trying the pattern at.
        self._prefixes = np.zeros(1 << 16, dtype=bool)
        for raw in (n.encode(e) for n in anywhere for e in ("utf-8", "utf-16-le")):
            self._prefixes[raw[0] | raw[1] << 8] = True

    def _kind_of_text(self, found: str) -> str:
        return self._kinds.get(found, "identifier")

    def _kind_of_bytes(self, found: bytes) -> str:
        for encoding in ("utf-8", "utf-16-le"):
            try:
                kind = self._kinds.get(found.decode(encoding))
            except UnicodeDecodeError:
                continue
            if kind:
                return kind
        return "identifier"

    def text_hit(self, value: str) -> str | None:
        low = value.strip(" \0").lower()
        if not low:
            return None
        if low in self.ids.exact:
            return self.ids.exact[low]
        if self._text is not None:
            m = self._text.search(low)
            if m:
                return self._kind_of_text(m.group(0))
        return None

    def bytes_hit(self, data: bytes) -> str | None:
        if self._bytes is None or not data:
            return None
        low = data.lower()
        if len(low) < LARGE:
            m = self._bytes.search(low)
            return self._kind_of_bytes(m.group(0)) if m else None
        for pos in self._candidates(low):
            m = self._bytes.match(low, int(pos))
            if m:
                return self._kind_of_bytes(m.group(0))
        return None

    def _candidates(self, low: bytes) -> np.ndarray:
        """Offsets whose two bytes begin some needle, in order."""
        even = np.frombuffer(low, dtype="<u2", count=len(low) // 2)
        odd = np.frombuffer(low, dtype="<u2", count=(len(low) - 1) // 2, offset=1)
        hits = np.concatenate([np.flatnonzero(self._prefixes[even]) * 2,
                               np.flatnonzero(self._prefixes[odd]) * 2 + 1])
        hits.sort()
        return hits

    def element_hit(self, elem: DataElement) -> str | None:
        value = elem.value
        if value is None:
            return None
        if isinstance(value, bytes | bytearray):
            return self.bytes_hit(bytes(value))
        if isinstance(value, str | PersonName) or not hasattr(value, "__iter__"):
            return self.text_hit(str(value))
        for item in value:
            hit = (self.bytes_hit(bytes(item)) if isinstance(item, bytes | bytearray)
                   else self.text_hit(str(item)))
            if hit:
                return hit
        return None

    def scan(self, ds: pydicom.Dataset) -> list[Leak]:
        """Every leak in ``ds`` and its file meta (empty: clean)."""
        leaks: list[Leak] = []

        def walk(dataset: pydicom.Dataset, where: str) -> None:
            for elem in dataset:
                here = f"{where} > {elem.tag}" if where else str(elem.tag)
                if elem.VR == "SQ":
                    for i, item in enumerate(elem.value or ()):
                        walk(item, f"{here}[{i}]")
                    continue
                kind = self.element_hit(elem)
                if kind:
                    name = f" {elem.keyword}" if elem.keyword else ""
                    leaks.append(Leak(f"{here}{name}", kind))

        meta = getattr(ds, "file_meta", None)
        if meta is not None:
            walk(meta, "")
        walk(ds, "")
        return leaks

    def scan_file_bytes(self, data: bytes) -> str | None:
        """A whole written file searched as bytes (``--verify``): kind of the first hit."""
        return self.bytes_hit(data)
