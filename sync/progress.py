"""What the sync is doing right now, for ``sync --status`` and the status bar.

The running sync writes a small JSON file next to the library (atomically,
at most a few times a second); readers combine it with the outbox counts.
A file left by a process that is gone is reported as "not running".
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.atomic import write_atomically

FILE_NAME = "sync-status.json"

# Phases a user sees.
IDLE, PREPARING, UPLOADING, CONFIRMING = "idle", "preparing", "uploading", "confirming"
RETRYING, OFFLINE, PAUSED, STOPPED, DONE = "retrying", "offline", "paused", "stopped", "done"


@dataclass
class Progress:
    phase: str = IDLE
    message: str = ""
    pid: int = field(default_factory=os.getpid)
    bytes_done: int = 0       # sent in this run
    bytes_total: int = 0      # to send in this run (estimated until prepared)
    rate_bps: float = 0.0     # recent upload rate
    eta_s: float | None = None
    next_try_in_s: float | None = None
    updated_at: float = field(default_factory=time.time)


class RateMeter:
    """Upload rate over a sliding window of recent samples."""

    def __init__(self, window_s: float = 10.0, clock=time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._samples: list[tuple[float, int]] = []

    def add(self, total_bytes: int) -> None:
        now = self.clock()
        self._samples.append((now, total_bytes))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window_s:
            self._samples.pop(0)

    def rate(self) -> float:
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0


class ProgressFile:
    def __init__(self, folder: Path, min_interval_s: float = 0.5) -> None:
        self.path = Path(folder) / FILE_NAME
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self.state = Progress()

    def update(self, force: bool = False, **changes: object) -> None:
        for key, value in changes.items():
            setattr(self.state, key, value)
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return
        self._last = now
        self.state.updated_at = time.time()
        remaining = max(0, self.state.bytes_total - self.state.bytes_done)
        self.state.eta_s = (remaining / self.state.rate_bps
                            if self.state.rate_bps > 0 and remaining else None)
        with contextlib.suppress(OSError):  # the status display is a nicety; the outbox is
            write_atomically(self.path, json.dumps(asdict(self.state)))  # the record


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def read_progress(folder: Path) -> Progress | None:
    """The running sync's progress, or None when no sync process is running."""
    try:
        data = json.loads((Path(folder) / FILE_NAME).read_text(encoding="utf-8"))
        progress = Progress(**{k: v for k, v in data.items() if k in Progress.__annotations__})
    except (OSError, ValueError, TypeError):
        return None
    if not _alive(int(progress.pid)) or progress.phase in (STOPPED, DONE):
        return None
    return progress


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
