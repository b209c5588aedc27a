"""Cloud sync in the workstation: a background sync loop and its status line.

When a cloud is configured, the sync loop (sync.runner) runs in a thread of
its own for as long as the window is open, sending what signed reads queue.
Every couple of seconds the status bar is refreshed from the outbox and the
loop's progress file (on the operations pool, never the GUI thread):
queued objects, the phase, rate and ETA, offline / paused, or why sync
stopped.  Pause and resume are the same setting `sync pause` changes.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from engine.errors import MammoDeskError
from engine.library import outbox
from sync import progress as prog
from ui.context import AppContext

if TYPE_CHECKING:
    from sync.status import StatusDocument

log = logging.getLogger(__name__)
POLL_MS = 2000


def status_text(doc: StatusDocument, configured: bool, paused: bool, error: str) -> str:
    """One line for the status bar."""
    if not configured:
        return "offline: no cloud configured"
    objects = doc.get("objects", {})
    assert isinstance(objects, dict)
    waiting = sum(int(objects.get(s, 0)) for s in outbox.PENDING)
    problems = int(objects.get(outbox.FAILED, 0))
    tail = f", {problems} failed" if problems else ""
    if error:
        return f"sync stopped: {error}"
    if paused:
        return f"sync paused: {waiting} waiting{tail}"
    phase = str(doc.get("phase", ""))
    if not waiting:
        return f"sync: all sent{tail}"
    if phase == prog.OFFLINE:
        return f"sync offline: {waiting} waiting, retrying{tail}"
    if phase == prog.UPLOADING and doc.get("rate_bps"):
        rate = float(doc["rate_bps"]) / 1e6
        eta = prog.format_eta(doc.get("eta_s"))
        return f"sync: {waiting} waiting, {rate:.1f} MB/s, ETA {eta}{tail}"
    if phase in (prog.PREPARING, prog.CONFIRMING, prog.RETRYING):
        return f"sync {phase}: {waiting} waiting{tail}"
    return f"sync: {waiting} queued{tail}"


class SyncController(QObject):
    changed = Signal(str)   # the status line

    def __init__(self, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False  # after stop(): no more background work is queued
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.refresh)

    # -- settings ------------------------------------------------------------
    def configured(self) -> bool:
        try:
            return bool(self.ctx.settings.all().get("cloud.url"))
        except MammoDeskError:
            return False

    def paused(self) -> bool:
        try:
            return self.ctx.settings.all().get("sync.paused") == "yes"
        except MammoDeskError:
            return False

    def set_paused(self, paused: bool) -> None:
        self.ctx.settings.update({"sync.paused": "yes" if paused else ""})
        self.refresh()

    # -- the loop ------------------------------------------------------------
    def start(self) -> None:
        """Start the loop if a cloud is configured and it is not running."""
        self._closed = False
        self._timer.start()
        if not self.configured() or (self._thread and self._thread.is_alive()):
            self.refresh()
            return
        self.error = ""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mammodesk-sync", daemon=True)
        self._thread.start()
        self.refresh()

    def _run(self) -> None:
        from engine.library.store import Library
        from sync.service import build_runner, sync_lock

        try:
            with Library(self.ctx.paths.library) as library, sync_lock(library):
                build_runner(self.ctx.paths, library, once=False, stop=self._stop).run()
        except MammoDeskError as exc:
            self.error = str(exc)
            log.info("sync stopped: %s", exc)
        except Exception:  # never take the window down with it
            log.exception("sync loop failed")
            self.error = "internal error; details are in the log"

    def stop(self, timeout_s: float = 10.0) -> None:
        self._closed = True
        self._timer.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    # -- the status line -----------------------------------------------------
    def refresh(self) -> None:
        if self._closed:
            return  # the window is closing: the operations pool is going away
        root, error = self.ctx.paths.library, self.error

        def load() -> str:  # settings file and database: off the GUI thread
            from engine.library.store import Library
            from sync.status import status_document

            with Library(root) as library:
                doc = status_document(library)
            return status_text(doc, self.configured(), self.paused(), error)

        self.ctx.ops.run(load, self.changed.emit, lambda _m: None, channel="sync-status")
