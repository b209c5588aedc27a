"""Finding any of many identifiers in megabytes of bytes (pixel data, a whole
serialized object) without searching once per identifier.

Every identifier is 4 bytes or longer.  Two tables hold which 16-bit words
can be an identifier's bytes 0-1 and bytes 2-3 (both letter cases); numpy
looks the words of the data up at every even and every odd offset, and only
the few offsets that pass both are compared exactly, lower-cased.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import numpy as np

Needle = tuple[bytes, str, bool]  # (lower-case bytes, kind, counts only as a whole number)
Whole = Callable[[bytes, int, int], bool]


@functools.lru_cache(maxsize=4096)
def _cases(pair: bytes) -> tuple[int, ...]:
    """Both cases of a two-byte (lower-case) piece, as little-endian 16-bit keys."""
    first = {pair[0], bytes([pair[0]]).upper()[0]}
    second = {pair[1], bytes([pair[1]]).upper()[0]}
    return tuple(a | b << 8 for a in first for b in second)


class PairIndex:
    def __init__(self, needles: list[Needle], whole: Whole) -> None:
        self._whole = whole
        self._first = np.zeros(1 << 16, dtype=bool)
        self._second = np.zeros(1 << 16, dtype=bool)
        self._by_prefix: dict[int, list[Needle]] = {}
        for needle in needles:
            raw = needle[0]
            self._first[list(_cases(raw[0:2]))] = True
            self._second[list(_cases(raw[2:4]))] = True
            self._by_prefix.setdefault(raw[0] | raw[1] << 8, []).append(needle)

    def first_hit(self, data: bytes) -> tuple[int, str] | None:
        """(offset, kind) of the first identifier found in ``data`` (any case), or None."""
        return next(((pos, kind) for pos, _, kind in self.hits(data)), None)

    def hits(self, data: bytes) -> Iterator[tuple[int, int, str]]:
        """(offset, length, kind) of every identifier in ``data`` (any case), in order."""
        if not self._by_prefix or len(data) < 4:
            return
        for pos in self._candidates(data):
            pos = int(pos)
            head = data[pos:pos + 2].lower()
            for raw, kind, numeric in self._by_prefix.get(head[0] | head[1] << 8, ()):
                if data[pos:pos + len(raw)].lower() == raw and (
                        not numeric or self._whole(data, pos, len(raw))):
                    yield pos, len(raw), kind

    def _candidates(self, hay: bytes) -> np.ndarray:
        """Offsets whose first four bytes could begin an identifier, in order."""
        found = []
        for offset in (0, 1):
            words = np.frombuffer(hay, dtype="<u2", count=(len(hay) - offset) // 2,
                                  offset=offset)
            first = np.flatnonzero(self._first[words[:-1]])
            found.append(first[self._second[words[first + 1]]] * 2 + offset)
        hits = np.concatenate(found)
        hits.sort()
        return hits
