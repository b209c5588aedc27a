"""The model update check in a process of its own, and the window's daily check.

``model_check(ctx)`` is the one ModelCheck of an AppContext: it starts
sync.model_updates.child in a spawned process (which ends with the window's
process), shows nothing itself, and reports through signals on the GUI
thread: ``started``, ``progressed(stage, done, total)`` and ``ended(CheckEnd)``.
After a check ends the AI is asked which model is live (a check may have made
an update live through models.auto_activate).  The Models dialog's Check now
and the window's daily check share it, so only one check runs at a time.

``ModelUpdates`` is the main window's part: the status-bar notice of an
update waiting, refreshed after every check, a short note when a check
failed ("Model check: offline"), and the automatic check, started with the
window and then every hour when sync.model_updates.cycle.check_due says one
is due.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from engine.errors import MammoDeskError
from sync.model_updates import child
from ui.context import AppContext

log = logging.getLogger(__name__)
TARGET = child.CYCLE  # what the process runs, as module:function
STOPPED = "the model check stopped unexpectedly"
OFFLINE_KINDS = ("ModelRepoOffline",)
POLL_MS = 100  # how often the process's messages are read
EXIT_WAIT_S = 10.0  # how long a process that answered may take to end
HOUR_MS = 60 * 60 * 1000
FIRST_CHECK_MS = 2 * 60 * 1000  # after the start, once the AI process has loaded


@dataclass(frozen=True)
class CheckEnd:
    """How a check ended: its outcome (CheckOutcome's fields), or one line."""

    outcome: dict[str, Any] | None
    error: str = ""
    kind: str = ""  # the error's class name; "" when the process stopped unexpectedly
    automatic: bool = False

    def line(self) -> str:
        if self.outcome is not None:
            return " ".join(str(self.outcome.get("reason") or "").split())
        return self.error

    def note(self) -> str:
        """The status bar's short note of a failed check ("" after a good one)."""
        if self.outcome is not None:
            return ""
        return "Model check: offline" if self.kind in OFFLINE_KINDS else "Model check: failed"


class ModelCheck(QObject):
    """One check at a time, each in a spawned process."""

    started = Signal()
    progressed = Signal(str, int, int)
    ended = Signal(object)  # CheckEnd

    def __init__(self, ctx: AppContext) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.automatic = False
        self.last_progress: tuple[str, int, int] | None = None
        self._proc: Any = None
        self._queue: Any = None
        self._answer: CheckEnd | None = None
        self._timer = QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)

    def running(self) -> bool:
        return self._proc is not None

    def start(self, automatic: bool = False) -> bool:
        """Start a check; False (and nothing started) while one runs."""
        if self.running():
            return False
        from engine.parent_watch import this_process

        self.automatic, self.last_progress, self._answer = automatic, None, None
        try:
            settings = self.ctx.settings.all()
        except MammoDeskError as exc:
            self.started.emit()
            self._end(CheckEnd(None, str(exc), type(exc).__name__, automatic))
            return True
        spawn = multiprocessing.get_context("spawn")
        out = spawn.Queue()
        proc = spawn.Process(target=child.run, name="model-check", daemon=True,
                             args=(TARGET, self.ctx.paths, settings, out, this_process()))
        try:
            proc.start()
        except OSError as exc:
            out.close()
            self.started.emit()
            self._end(CheckEnd(None, f"the model check could not start: {exc.strerror or exc}",
                               type(exc).__name__, automatic))
            return True
        self._proc, self._queue = proc, out
        self._timer.start()
        self.started.emit()
        return True

    def stop(self) -> None:
        """Stop a running check (the window closes); no ``ended`` follows.  The
        update log and the candidates folder are safe against this: the next
        check removes what was left half-fetched."""
        proc, out = self._proc, self._queue
        if proc is None:
            return
        self._timer.stop()
        self._proc = self._queue = None
        proc.terminate()
        proc.join(2.0)
        if proc.is_alive():
            proc.kill()
            proc.join(2.0)
        out.close()
        log.info("a running model check was stopped")

    def _poll(self) -> None:
        proc, out = self._proc, self._queue
        if proc is None:
            return
        alive = proc.is_alive()  # before reading: what it sent before it ended is there
        while self._answer is None:
            try:
                message = out.get_nowait()
            except (queue.Empty, EOFError, OSError):
                break
            self._take(message)
        if self._answer is not None:
            self._proc = self._queue = None
            self._timer.stop()
            out.close()
            _reap(proc, time.monotonic() + EXIT_WAIT_S)
            self._end(self._answer)
        elif not alive:
            self._proc = self._queue = None
            self._timer.stop()
            out.close()
            log.warning("the model check process ended without an answer (exit status %s)",
                        proc.exitcode)
            self._end(CheckEnd(None, STOPPED, "", self.automatic))

    def _take(self, message: Any) -> None:
        kind = message[0] if isinstance(message, tuple) and message else None
        if kind == "progress" and len(message) == 4:
            self.last_progress = (str(message[1]), int(message[2]), int(message[3]))
            self.progressed.emit(*self.last_progress)
        elif kind == "done" and len(message) == 2 and isinstance(message[1], dict):
            self._answer = CheckEnd(message[1], automatic=self.automatic)
        elif kind == "error" and len(message) == 3:
            self._answer = CheckEnd(None, str(message[2]), str(message[1]), self.automatic)

    def _end(self, end: CheckEnd) -> None:
        self.ctx.refresh_model()  # the check may have made an update live
        self.ended.emit(end)


def _reap(proc: Any, deadline: float) -> None:
    """Let a process that answered end by itself (it may take a moment to
    unload its models), without waiting on the GUI thread; stopped after a while."""
    if proc.is_alive() and time.monotonic() < deadline:
        QTimer.singleShot(POLL_MS * 5, lambda: _reap(proc, deadline))
        return
    if proc.is_alive():
        proc.kill()
    proc.join(1.0)


def model_check(ctx: AppContext) -> ModelCheck:
    """The context's ModelCheck (made on first use)."""
    found = ctx.findChild(ModelCheck)
    return found if isinstance(found, ModelCheck) else ModelCheck(ctx)


def ai_on(ctx: AppContext) -> bool:
    """Whether the window runs the AI (the daily check is not wanted without it)."""
    return bool(ctx.ai_enabled)


class ModelUpdates(QObject):
    """The status-bar notice (``label``) and the daily check of one window."""

    def __init__(self, ctx: AppContext, label: QLabel, parent: QObject | None = None,
                 every_ms: int = HOUR_MS, first_ms: int | None = None) -> None:
        super().__init__(parent)
        self.first_ms = FIRST_CHECK_MS if first_ms is None else first_ms
        self.ctx, self.label = ctx, label
        self.note = ""  # the last check's failure, briefly
        self.check = model_check(ctx)
        self.check.ended.connect(self._ended)
        self.timer = QTimer(self, interval=every_ms)
        self.timer.timeout.connect(self.check_if_due)

    def refresh_notice(self) -> None:
        from ui.model_update_notice import refresh_notice

        refresh_notice(self.ctx, self.label, self.note)

    def start_daily(self, enabled: bool | None = None) -> bool:
        """Check if due a little after the start, then every hour; ``enabled``
        None: when the AI is on."""
        if not (ai_on(self.ctx) if enabled is None else enabled):
            return False
        self.timer.start()
        QTimer.singleShot(self.first_ms, self, self.check_if_due)
        return True

    def check_if_due(self) -> None:
        """While the daily checks are on, start the automatic check when one is
        due and none runs (the question reads files: asked off the GUI thread)."""
        if self.check.running():
            return
        paths, settings = self.ctx.paths, self.ctx.settings

        def due() -> bool:
            from sync.model_updates.cycle import check_due

            return check_due(paths, settings.all())

        def answer(is_due: bool) -> None:
            if is_due and shiboken6.isValid(self) and self.timer.isActive():
                self.check.start(automatic=True)

        self.ctx.ops.run(due, answer, lambda m: log.warning("model check not started: %s", m),
                         channel="model-auto-check")

    def stop(self) -> None:
        """The window closes: no more automatic checks, and a running one stops."""
        self.timer.stop()
        self.check.stop()

    def _ended(self, end: CheckEnd) -> None:
        if not shiboken6.isValid(self) or not shiboken6.isValid(self.label):
            return
        self.note = end.note()
        if end.automatic:
            if end.outcome is None:
                log.warning("automatic model check: %s", end.error)
            else:
                log.info("automatic model check: %s", end.line())
        self.refresh_notice()
