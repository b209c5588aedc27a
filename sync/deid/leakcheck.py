"""The leak check: every element of an output object, at every depth (file
meta, private elements, UN/OB/OW and pixel data included), searched for the
identifiers harvested from its input.  Any hit blocks the object.

Text values are searched as text; binary values as bytes, in UTF-8 and
UTF-16LE; all case-insensitively.  A number or UID counts only as a whole
(1234 inside 2.25.991234567 is chance).  A hit is reported by element path
and kind of identifier, never by value.

All text values of an object are joined into one string and each identifier
is looked for once with ``str.find``; large binary values are searched
through a table of the identifiers' first two bytes.  The bytes as written
are searched too: an identifier there that lies in no element value (the
preamble, a delimiter, across two values) blocks the object "outside any
element".
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator
from dataclasses import dataclass

import pydicom

from sync.deid.elements import Value, values
from sync.deid.identifiers import Identifiers
from sync.deid.pair_index import PairIndex
from sync.deid.spans import Spans

LARGE = 1 << 16  # bytes: above this, a value is searched through the prefix tables
_SEP = "\x00"
_BYTES_SEP = b"\xff\xfe\xff"  # never part of an identifier in UTF-8 or UTF-16
_DIGITS = frozenset("0123456789.")
# Where a short value equal to a short ID is a leak (not in numbers or codes:
# a series number 1 is not patient 1).
_IDENTIFIER_VRS = frozenset({"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UN", "UT"})
_DIGIT_BYTES = frozenset(b"0123456789.")


@dataclass(frozen=True)
class Leak:
    where: str  # e.g. "(0009,1010)[0] > (0009,1002)"
    kind: str   # e.g. "person name", "original UID"

    def __str__(self) -> str:
        return f"{self.kind} in {self.where}"


_NOT_NUMERIC = str.maketrans("", "", "0123456789.")


def _numeric(needle: str) -> bool:
    return not needle.translate(_NOT_NUMERIC)


def _whole(hay: str | bytes, at: int, size: int, digits: frozenset) -> bool:
    """A numeric needle at ``at`` stands alone: no digit right after it, and (for
    short numbers) no digit or dot before it.  A long number (a UID) in text is
    a hit wherever it starts; in binary data, wherever it stands (the bytes
    around it are not text, and a related UID is a leak too)."""
    if size >= 16 and isinstance(hay, bytes):
        return True
    after = hay[at + size] if at + size < len(hay) else None
    if after is not None and after in digits and after not in (".", ord(".")):
        return False
    if size >= 16:
        return True
    before = hay[at - 1] if at > 0 else None
    return before is None or before not in digits


def _whole_bytes(hay: bytes, at: int, size: int) -> bool:
    return _whole(hay, at, size, _DIGIT_BYTES)


def _find(hay: str | bytes, needles: list, digits: frozenset,
          every: bool) -> Iterator[tuple[int, str]]:
    """(position, kind) of each needle in ``hay``: its first whole occurrence, or
    every one when ``every`` (joined values: each occurrence may be another element)."""
    for needle, kind, numeric in needles:
        start = hay.find(needle)
        while start >= 0:
            if not numeric or _whole(hay, start, len(needle), digits):
                yield start, kind
                if not every:
                    break
            start = hay.find(needle, start + 1)


class Scanner:
    def __init__(self, ids: Identifiers) -> None:
        self.ids = ids
        self._text = [(n, k, _numeric(n)) for n, k in {**ids.in_text, **ids.anywhere}.items()]
        self._bytes = [(n.encode(e), k, _numeric(n) and e == "utf-8")
                       for n, k in ids.anywhere.items() for e in ("utf-8", "utf-16-le")]
        # A whole serialized object: every identifier, name parts too (a hit
        # there is only a reason to look element by element).
        ascii_only = all(n.isascii() for n in (*ids.anywhere, *ids.in_text))
        self._serial = PairIndex(
            self._bytes + [(n.encode(), k, _numeric(n)) for n, k in ids.in_text.items()],
            _whole_bytes) if ascii_only and not ids.exact else None

    @functools.cached_property
    def _large(self) -> PairIndex:
        """For large binary values one by one: built only when the one-pass search
        over the serialized object could not clear it (or for --verify)."""
        return PairIndex(self._bytes, _whole_bytes)

    # -- searching ---------------------------------------------------------
    def _search_text(self, hay: str) -> Iterator[tuple[int, str]]:
        return _find(hay, self._text, _DIGITS, every=False)

    def _search_bytes(self, data: bytes) -> Iterator[tuple[int, str]]:
        """Hits in ``data`` (any case)."""
        if len(data) < LARGE:
            yield from _find(data.lower(), self._bytes, _DIGIT_BYTES, every=False)
            return
        hit = self._large.first_hit(data)
        if hit is not None:
            yield hit

    # -- single values (tests, callers) -----------------------------------
    def text_hit(self, value: str) -> str | None:
        low = value.strip(" \0").lower()
        if low in self.ids.exact:
            return self.ids.exact[low]
        return next((kind for _, kind in self._search_text(low)), None)

    def bytes_hit(self, data: bytes) -> str | None:
        return next((kind for _, kind in self._search_bytes(data)), None)

    # -- whole objects -----------------------------------------------------
    def scan(self, ds: pydicom.Dataset) -> list[Leak]:
        """Every leaking element of ``ds`` and its file meta (empty: clean)."""
        texts: list[tuple[Value, str]] = []      # (element, lower-case text)
        blobs: list[tuple[Value, bytes]] = []    # (element, lower-case bytes)
        leaks: list[Leak] = []
        meta = getattr(ds, "file_meta", None)
        for dataset in (meta, ds):
            if dataset is None:
                continue
            for v in values(dataset):
                if v.blob is not None:
                    blobs.append((v, v.blob))
                    continue
                for item in v.texts or ():
                    low = item.strip(" \0").lower()
                    if low in self.ids.exact and v.vr in _IDENTIFIER_VRS:
                        leaks.append(Leak(v.where, self.ids.exact[low]))
                    elif low:
                        texts.append((v, low))
        # All text in one string: each identifier is looked for once.
        starts, parts, at = [], [], 0
        for _, text in texts:
            starts.append(at)
            parts.append(text)
            at += len(text) + 1
        hay = _SEP.join(parts)
        seen = {leak.where for leak in leaks}
        for pos, kind in _find(hay, self._text, _DIGITS, every=True):
            where = texts[bisect.bisect_right(starts, pos) - 1][0].where
            if where not in seen:
                seen.add(where)
                leaks.append(Leak(where, kind))
        # Small binary values likewise in one buffer; large ones (pixel data) alone.
        small = [(v, b.lower()) for v, b in blobs if len(b) < LARGE]
        starts, at = [], 0
        for _, blob in small:
            starts.append(at)
            at += len(blob) + len(_BYTES_SEP)
        joined = _BYTES_SEP.join(b for _, b in small)
        hits = [(small[bisect.bisect_right(starts, pos) - 1][0], kind)
                for pos, kind in _find(joined, self._bytes, _DIGIT_BYTES, every=True)]
        hits += [(v, kind) for v, b in blobs if len(b) >= LARGE
                 for kind in [next((k for _, k in self._search_bytes(b)), None)] if kind]
        for v, kind in hits:
            if v.where not in seen:
                seen.add(v.where)
                leaks.append(Leak(v.where, kind))
        return leaks

    def check(self, ds: pydicom.Dataset, serialized: bytes) -> list[Leak]:
        """The leaks of ``ds`` as written to ``serialized`` (empty: it may leave).

        One pass over the written bytes; only when it finds something (or
        cannot decide) is every element searched, to say which.  What that
        pass finds but the element walk cannot attribute (the preamble, a
        delimiter, bytes after the data set, a value straddling two elements)
        blocks the object too: it is "outside any element"."""
        if self.certainly_clean(serialized):
            return []
        leaks = self.scan(ds)
        if leaks or self._serial is None:
            return leaks  # no one-pass search: the element walk alone decides
        return self.outside_elements(serialized)

    def outside_elements(self, serialized: bytes) -> list[Leak]:
        """Identifiers found in ``serialized`` but not inside one element value.

        Inside a value the element walk is what decides (a name part in pixel
        data is chance, a UID followed by more digits is another UID)."""
        if self._serial is None:
            return []
        spans: Spans | None = None
        for pos, size, kind in self._serial.hits(serialized):
            spans = spans or Spans(serialized)
            if not spans.inside_one(pos, pos + size):
                return [Leak("outside any element", kind)]
        return []

    def certainly_clean(self, serialized: bytes) -> bool:
        """True when the object as it will be written holds none of the identifiers.

        One pass over the written bytes finds every identifier a scan of the
        elements could find, and more (name parts in pixel data, a UID
        followed by more digits), provided the identifiers are ASCII (the
        bytes of any DICOM character set are then the text's) and none is
        too short to search for.  False means: scan element by element."""
        return self._serial is not None and self._serial.first_hit(serialized) is None
