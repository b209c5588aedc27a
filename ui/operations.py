"""The one way the UI runs slow work: off the GUI thread, results and errors
delivered back on the GUI thread (after Anki's QueryOp and Picard's
run_task).

    ops.run(lambda: rows_of(library_root), on_done=self.show_rows, on_error=self.say,
            channel="worklist")

The work opens what it needs itself (a library connection belongs to the
thread that opened it).  Errors reach `on_error` as one line: MammoDesk's own
errors as they are written for users, anything else as "internal error:
<type>: <message>" (with the traceback in the log, never on screen).  A
result superseded by a newer request on the same channel is dropped, not
delivered.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from engine.errors import MammoDeskError

log = logging.getLogger(__name__)


def user_message(exc: BaseException) -> str:
    """One line for the screen."""
    if isinstance(exc, MammoDeskError):
        text = str(exc)
    elif isinstance(exc, MemoryError):
        text = "not enough memory for this operation"
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror.lower()}" + (f": {exc.filename}" if exc.filename else "")
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
    return " ".join(text.split())[:300]


# Results travel back through a plain queue that the GUI thread drains on a
# timer, not through signals emitted from pool threads: PySide6 loses
# references to None when a queued signal is delivered to a method across
# threads (a few hundred per 20,000 deliveries, measured with 6.11), and a
# long session then aborts the process ("deallocating None").
_Outcome = tuple[int, bool, object]  # ident, succeeded, result or one-line message
DELIVERY_INTERVAL_MS = 5  # while tasks are pending


class _Task(QRunnable):
    def __init__(self, ident: int, fn: Callable[[], Any],
                 outcomes: queue.SimpleQueue[_Outcome]) -> None:
        super().__init__()
        self.ident, self.fn, self.outcomes = ident, fn, outcomes
        self.setAutoDelete(True)

    def run(self) -> None:
        try:
            result = self.fn()
        except BaseException as exc:
            if not isinstance(exc, MammoDeskError):
                log.exception("background task failed")
            self.outcomes.put((self.ident, False, user_message(exc)))
            return
        self.outcomes.put((self.ident, True, result))


class Operations(QObject):
    """A small thread pool with GUI-thread delivery.  `channel` names a kind
    of request: a newer request on the same channel makes older results
    stale (opening study B while A is still loading shows B only)."""

    busy_changed = Signal(int)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, max_threads))
        self._outcomes: queue.SimpleQueue[_Outcome] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(DELIVERY_INTERVAL_MS)
        self._timer.timeout.connect(self._deliver)
        self._next = 0
        self._callbacks: dict[int, tuple[Callable, Callable | None, str | None]] = {}
        self._latest: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    def run(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] = lambda _r: None,
        on_error: Callable[[str], None] | None = None,
        channel: str | None = None,
        priority: int = 0,
    ) -> int:
        """Queue fn; higher `priority` runs first among waiting tasks."""
        with self._lock:
            self._next += 1
            ident = self._next
        self._callbacks[ident] = (on_done, on_error, channel)
        if channel is not None:
            self._latest[channel] = ident
        self.pool.start(_Task(ident, fn, self._outcomes), priority)
        if not self._timer.isActive():
            self._timer.start()
        self.busy_changed.emit(self.pending)
        return ident

    def _take(self, ident: int) -> tuple[Callable, Callable | None] | None:
        entry = self._callbacks.pop(ident, None)
        self.busy_changed.emit(self.pending)
        if entry is None:
            return None
        on_done, on_error, channel = entry
        if channel is not None and self._latest.get(channel) != ident:
            return None  # superseded
        return on_done, on_error

    def _deliver(self) -> None:
        """On the GUI thread: hand every finished task's outcome to its callback."""
        while True:
            try:
                ident, ok, value = self._outcomes.get_nowait()
            except queue.Empty:
                break
            if ok:
                self._on_done(ident, value)
            else:
                self._on_failed(ident, str(value))
        if not self._callbacks:
            self._timer.stop()

    def _on_done(self, ident: int, result: object) -> None:
        cb = self._take(ident)
        if cb is not None:
            cb[0](result)

    def _on_failed(self, ident: int, message: str) -> None:
        cb = self._take(ident)
        if cb is None:
            return
        if cb[1] is not None:
            cb[1](message)
        else:
            log.warning("background task: %s", message)

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the pool is idle (tests, shutdown); -1 waits as long as it takes."""
        return self.pool.waitForDone(msecs)

    def drop_queued(self) -> None:
        """Forget tasks that have not started (shutdown): they never run and
        their callbacks are never called."""
        self.pool.clear()

    def close(self) -> None:
        """Shut down: queued tasks are dropped, running ones finished; no
        callback is called any more."""
        self.pool.clear()
        self.pool.waitForDone(-1)
        self._timer.stop()
        self._callbacks.clear()
