"""Decoded images for the viewer, arriving progressively: a reduced image
first (screen resolution), then the full resolution; from the memory cache
or the library's disk cache when they have it.

Decoders hold Python's global lock for the whole decode (seconds for a
large JPEG 2000 image), which would freeze the window, so decoding runs in
worker processes; the operations pool's threads only wait for them.
`ready` fires on the GUI thread each time an image gains resolution,
`failed` with a one-line reason."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import CancelledError, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from PySide6.QtCore import QObject, Signal

from engine.display.decode import reduction_level
from engine.display.disk_cache import DiskCache
from engine.display.image_cache import ImageCache
from engine.display.images import ViewImage
from engine.display.study_images import ImageFile, job_full, job_open, open_cached, warm_up
from engine.errors import DecodeError
from ui.operations import Operations

DECODE_PROCESSES = 2
T = TypeVar("T")


def decode_pool(workers: int = DECODE_PROCESSES) -> ProcessPoolExecutor:
    """Worker processes started fresh (spawn: never a fork of a Qt process)."""
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    for _ in range(workers):
        pool.submit(warm_up)  # start them and import the decoders now
    return pool


class ImageStore(QObject):
    ready = Signal(str, object)  # key, ViewImage
    failed = Signal(str, str)  # key, reason

    # Queue order: what is on screen first, its full resolution next, then
    # images fetched ahead (the next study in the worklist).
    SCREEN, FULL, AHEAD = 3, 2, 0

    def __init__(self, ops: Operations, cache: ImageCache, disk: DiskCache | None,
                 procs: ProcessPoolExecutor | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ops, self.cache, self.disk = ops, cache, disk
        self._procs = procs
        self._closed = False
        self._lock = threading.Lock()  # the pool is made and stopped by different threads
        self._loading: set[str] = set()
        self._completing: set[str] = set()

    @property
    def procs(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise DecodeError("the viewer is closing")
            if self._procs is None:
                self._procs = decode_pool()
            return self._procs

    def _in_worker(self, fn: Callable[..., T], *args: object) -> T:
        procs = self.procs
        try:
            return procs.submit(fn, *args).result()
        except BrokenProcessPool as exc:
            # A decoder died (a crash in native code on a bad file): start
            # fresh workers for the next image and say what happened.
            with self._lock:
                if self._procs is procs:
                    self._procs = None
            raise DecodeError("the image decoder stopped on this image") from exc
        except (RuntimeError, CancelledError) as exc:  # close() stopped the pool meanwhile
            if self._closed:
                raise DecodeError("the viewer is closing") from exc
            raise

    def close(self) -> None:
        """Stop the decoders for good: a request still running fails, none starts them again.
        A pool being started by a request as this is called is waited for and stopped."""
        with self._lock:
            self._closed = True
            procs, self._procs = self._procs, None
        if procs is not None:
            procs.shutdown(wait=True, cancel_futures=True)

    def request(self, item: ImageFile, target: tuple[int, int] = (1024, 1024),
                full: bool = True, ahead: bool = False, size: tuple[int, int] = (0, 0)) -> None:
        """Make `item` available: at least big enough for a cell of `target`
        (rows, columns) now, every stored pixel later when `full`.  `size` is
        the image's stored size when the caller already read its header."""
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

            cached = open_cached(item, self.disk)  # decoded before: no decode at all
            if cached is not None:
                return cached
            rows, cols = size
            if not (rows and cols):
                try:
                    ds = pydicom.dcmread(item.path, stop_before_pixels=True)
                    rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
                except Exception:  # the decode below reports the real problem
                    pass
            level = reduction_level(rows, cols, *target) if rows and cols else 0
            return self._in_worker(job_open, item, level)

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
        disk = self.disk

        def work() -> None:
            root = str(disk.root) if disk is not None and item.digest else None
            levels = self._in_worker(job_full, item, root)
            if levels is None and disk is not None and item.digest:
                levels = disk.load(item.digest)
                if levels is None:  # the cache could not keep it (full disk)
                    levels = self._in_worker(job_full, item, None)
            for k, arr in (levels or {}).items():
                view.add_level(k, arr)

        def done(_r: object) -> None:
            self._completing.discard(item.key)
            self.cache.grew()
            self.ready.emit(item.key, view)

        def fail(message: str) -> None:
            self._completing.discard(item.key)
            self.failed.emit(item.key, message)

        self.ops.run(work, done, fail, priority=priority)
