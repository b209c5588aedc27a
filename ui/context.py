"""What the windows share: folders, the operations pool, the image caches,
and the AI model, which loads in the background after the window shows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.display.disk_cache import DiskCache
from engine.display.image_cache import ImageCache
from engine.paths import AppPaths
from engine.settings import Settings
from ui.operations import Operations
from ui.viewer.image_store import ImageStore

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)
LOADING, READY, NO_MODEL, FAILED = "loading", "ready", "none", "failed"


class AppContext(QObject):
    model_changed = Signal(str)  # state

    def __init__(self, paths: AppPaths, parent: QObject | None = None,
                 ai_enabled: bool = True) -> None:
        super().__init__(parent)
        self.paths = paths
        self.settings = Settings(paths.config)
        # Database work, decoding and the AI each have their own threads, so
        # a long decode never holds up saving a read or the worklist.
        self.ops = Operations(2, self)
        self.decode_ops = Operations(2, self)
        self.ai_ops = Operations(1, self)
        self.cache = ImageCache()
        self.disk = DiskCache(paths.cache / "display")
        self.images = ImageStore(self.decode_ops, self.cache, self.disk, parent=self)
        self.model: dict[str, str] | None = None  # name, version, device, backend
        self._ai_procs: ProcessPoolExecutor | None = None
        self.model_state = NO_MODEL if not ai_enabled else LOADING
        self.model_text = "AI off" if not ai_enabled else "loading the AI model..."
        self._ai_enabled = ai_enabled
        self._waiting: list[Callable[[], None]] = []

    @property
    def ai_enabled(self) -> bool:
        """Whether this window runs the AI at all (off for --no-ai and tests)."""
        return self._ai_enabled

    def load_model(self) -> None:
        """Start loading the active model package (call after the window shows)."""
        if not self._ai_enabled:
            self.model_changed.emit(self.model_state)
            return

        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from engine.ai import worker
        from engine.parent_watch import this_process

        # The model lives in a process of its own (see engine.ai.worker).
        self._ai_procs = ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=worker.init,
            initargs=(str(self.paths.models), "auto", this_process()))

        self._ask_model()

    def refresh_model(self) -> None:
        """Ask the AI process which model it runs now: after a switch (the
        Models dialog, ``models activate`` elsewhere) it loads the live one."""
        if self._ai_procs is not None:
            self._ask_model()

    def _ask_model(self) -> None:
        from engine.ai import worker

        def load():
            return self.in_ai_process(worker.model_info)

        def done(info: dict[str, str]) -> None:
            self.model = info
            self.model_state = READY
            self.model_text = f"model {info['name']} {info['version']} ({info['device']})"
            log.info("AI model ready: %s", self.model_text)
            self._flush()

        def failed(message: str) -> None:
            from engine.ai.service import NO_MODEL as NO_MODEL_TEXT

            self.model_state = NO_MODEL if message == NO_MODEL_TEXT else FAILED
            self.model_text = (
                message if self.model_state == NO_MODEL else f"AI unavailable: {message}"
            )
            self._flush()

        self.ai_ops.run(load, done, failed)

    def in_ai_process(self, fn, *args):
        """Run an engine.ai.worker job in the AI process and wait (call from
        a background thread)."""
        from concurrent.futures.process import BrokenProcessPool

        from engine.errors import MammoDeskError

        if self._ai_procs is None:
            raise MammoDeskError("the AI is not running")
        try:
            return self._ai_procs.submit(fn, *args).result()
        except BrokenProcessPool as exc:
            raise MammoDeskError("the AI process stopped; restart MammoDesk") from exc

    def close(self) -> None:
        """Stop background work and the worker processes; when this returns, no
        thread of ours runs Python code any more.

        Database work (a read being saved) is finished, however long it takes.
        Decodes and analyses still queued are dropped, and those waiting on a
        worker process are released by stopping the processes.  (A bounded
        wait would let a slow machine reach the interpreter's exit with a pool
        thread still inside Python, which aborts the process.)"""
        self.decode_ops.drop_queued()
        self.ai_ops.drop_queued()
        self.ops.wait(-1)
        self.images.close()
        if self._ai_procs is not None:
            self._ai_procs.shutdown(wait=True, cancel_futures=True)
            self._ai_procs = None
        for ops in (self.ops, self.decode_ops, self.ai_ops):
            ops.close()

    def wait_all(self, msecs: int = 30000) -> bool:
        """Block until every pool is idle (tests, benchmarks, shutdown)."""
        return all(o.wait(msecs) for o in (self.ops, self.decode_ops, self.ai_ops))

    def when_model_settled(self, fn: Callable[[], None]) -> None:
        """Run fn now if loading is over, else when it is."""
        if self.model_state == LOADING:
            self._waiting.append(fn)
        else:
            fn()

    def _flush(self) -> None:
        self.model_changed.emit(self.model_state)
        waiting, self._waiting = self._waiting, []
        for fn in waiting:
            fn()
