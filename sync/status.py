"""Where sync stands for one library: what is queued, sent and failing, and
what a running sync reports (rate, ETA).  The command line and the window's
status line both read it."""

from __future__ import annotations

from typing import TypedDict

from engine.library import Library, outbox
from sync import progress as prog


class Problem(TypedDict):
    kind: str
    state: str
    reason: str


class StatusDocument(TypedDict):
    objects: dict[str, int]  # per item state
    bytes_pending: int
    studies: dict[str, int]  # per study state
    running: bool
    phase: str
    message: str
    rate_bps: float
    eta_s: float | None
    problems: list[Problem]


def status_document(library: Library) -> StatusDocument:
    counts = outbox.counts(library)
    running = prog.read_progress(library.root)
    pending = {s: counts[s] for s in outbox.PENDING}
    return {
        "objects": {s: c["objects"] for s, c in counts.items()},
        "bytes_pending": sum(c["bytes"] for c in pending.values()),
        "studies": outbox.study_states(library),
        "running": running is not None,
        "phase": running.phase if running else "not running",
        "message": running.message if running else "",
        "rate_bps": running.rate_bps if running else 0.0,
        "eta_s": running.eta_s if running else None,
        "problems": [{"kind": k, "state": s, "reason": r} for k, s, r in outbox.problems(library)],
    }
