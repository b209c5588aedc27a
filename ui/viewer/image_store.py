"""Decoded images for the viewer, arriving progressively: a reduced image
first (screen resolution), then the full resolution; from the memory cache
or the library's disk cache when they have it.  Decoding runs in the
operations pool; `ready` fires on the GUI thread each time an image gains
resolution, `failed` with a one-line reason."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from engine.display.decode import reduction_level
from engine.display.disk_cache import DiskCache
from engine.display.image_cache import ImageCache
from engine.display.images import ViewImage
from engine.display.study_images import ImageFile, complete_view, open_view
from ui.operations import Operations


class ImageStore(QObject):
    ready = Signal(str, object)  # key, ViewImage
    failed = Signal(str, str)  # key, reason

    def __init__(self, ops: Operations, cache: ImageCache, disk: DiskCache | None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ops, self.cache, self.disk = ops, cache, disk
        self._loading: set[str] = set()
        self._completing: set[str] = set()

    # Queue order: what is on screen first, its full resolution next, then
    # images fetched ahead (the next study in the worklist).
    SCREEN, FULL, AHEAD = 3, 2, 0

    def request(self, item: ImageFile, target: tuple[int, int] = (1024, 1024),
                full: bool = True, ahead: bool = False) -> None:
        """Make `item` available: at least big enough for a cell of `target`
        (rows, columns) now, every stored pixel later when `full`."""
        view = self.cache.get(item.key)
        first_priority = self.AHEAD if ahead else self.SCREEN
        full_priority = self.AHEAD if ahead else self.FULL
        if view is not None:
            self.ready.emit(item.key, view)
            if full and view.full is None:
                self._complete(item, view, full_priority)
            return
        if item.key in self._loading:
            return
        self._loading.add(item.key)

        def first() -> ViewImage:
            import pydicom

            rows = cols = 0
            try:
                ds = pydicom.dcmread(item.path, stop_before_pixels=True)
                rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
            except Exception:  # the decode below reports the real problem
                pass
            level = reduction_level(rows, cols, *target) if rows and cols else 0
            return open_view(item, level, self.disk)

        def done(view: ViewImage) -> None:
            self._loading.discard(item.key)
            self.cache.put(view)
            self.ready.emit(item.key, view)
            if full and view.full is None:
                self._complete(item, view, full_priority)

        def fail(message: str) -> None:
            self._loading.discard(item.key)
            self.failed.emit(item.key, message)

        self.ops.run(first, done, fail, priority=first_priority)

    def _complete(self, item: ImageFile, view: ViewImage, priority: int) -> None:
        if item.key in self._completing:
            return
        self._completing.add(item.key)

        def done(_r: object) -> None:
            self._completing.discard(item.key)
            self.cache.grew()
            self.ready.emit(item.key, view)

        def fail(message: str) -> None:
            self._completing.discard(item.key)
            self.failed.emit(item.key, message)

        self.ops.run(lambda: complete_view(view, item, self.disk), done, fail, priority=priority)
