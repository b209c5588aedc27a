"""Waiting on what a running `sync` process reports, instead of sleeping."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from sync.progress import FILE_NAME


def progress_of(folder: Path, pid: int) -> dict | None:
    """The progress document process `pid` last wrote in `folder`, if any."""
    try:
        doc = json.loads((folder / FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if doc.get("pid") == pid else None


def wait_for_progress(folder: Path, proc: subprocess.Popen, accept: Callable[[dict], bool],
                      timeout_s: float = 120.0) -> dict | None:
    """Poll until the process reports a state `accept` takes (returned), or it
    exits first (None).  A process that does neither within the timeout fails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = progress_of(folder, proc.pid)
        if doc is not None and accept(doc):
            return doc
        if proc.poll() is not None:
            return None
        time.sleep(0.02)
    raise AssertionError(f"sync reported nothing expected within {timeout_s:.0f} s")
