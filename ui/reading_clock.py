"""How long a read has taken: a clock that runs while the read is open for
editing and the window is the active one, and stops while the reader is
elsewhere (another window, another program)."""

from __future__ import annotations

import time
from collections.abc import Callable


class ReadingClock:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._before = 0.0  # seconds counted before the current run
        self._since: float | None = None  # when the current run started; None: stopped
        self._running = False  # a read is open for editing
        self._active = True  # the window is the active one

    def start(self, already_s: float = 0.0, running: bool = True) -> None:
        """A read is shown; `already_s`: what earlier visits counted;
        `running`: False for a read that is locked (the clock stays still)."""
        self._before = max(0.0, float(already_s or 0.0))
        self._running = running
        self._since = self._now() if running and self._active else None

    def set_active(self, active: bool) -> None:
        """The window became the active one (True) or lost that (False)."""
        self._active = active
        if not active:
            self._pause()
        elif self._running and self._since is None:
            self._since = self._now()

    def _pause(self) -> None:
        if self._since is not None:
            self._before += self._now() - self._since
            self._since = None

    @property
    def counting(self) -> bool:
        """The clock is running now (a read open, the window active)."""
        return self._since is not None

    def seconds(self) -> float:
        running = self._now() - self._since if self._since is not None else 0.0
        return round(self._before + running, 1)
