"""Decoded images in memory: least recently used first out, bounded in bytes,
with the images on screen pinned so they are never evicted (Weasis's
discipline).  Thread-safe: decoders put, the GUI gets."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from engine.display.images import ViewImage

DEFAULT_BYTES = 1_500 * 1024 * 1024


class ImageCache:
    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, ViewImage] = OrderedDict()
        self._pinned: set[str] = set()
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(v.nbytes for v in self._items.values())

    def get(self, key: str) -> ViewImage | None:
        with self._lock:
            view = self._items.get(key)
            if view is not None:
                self._items.move_to_end(key)
            return view

    def put(self, view: ViewImage) -> None:
        with self._lock:
            self._items[view.key] = view
            self._items.move_to_end(view.key)
            self._evict()

    def grew(self) -> None:
        """Call after an image gained levels (full resolution arrived)."""
        with self._lock:
            self._evict()

    def pin(self, keys: Iterable[str]) -> None:
        """Pin exactly these images (the ones on screen); unpin the rest."""
        with self._lock:
            self._pinned = set(keys)
            self._evict()

    def _evict(self) -> None:
        total = sum(v.nbytes for v in self._items.values())
        for key in list(self._items):
            if total <= self.max_bytes:
                break
            if key in self._pinned:
                continue
            total -= self._items.pop(key).nbytes
