"""A real X display for a test: Xvfb on a free display number, stopped
afterwards; what the child process needs in its environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_display() -> int:
    for n in range(90, 200):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


@contextmanager
def xvfb_env(home: Path, screen: str = "1920x1080x24") -> Iterator[dict[str, str]]:
    """The environment of a MammoDesk process drawing on a fresh Xvfb screen."""
    xvfb = shutil.which("Xvfb")
    assert xvfb, "Xvfb is needed (Debian package xvfb; tests/run-all.sh installs it)"
    n = _free_display()
    server = subprocess.Popen([xvfb, f":{n}", "-screen", "0", screen, "-nolisten", "tcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if os.path.exists(f"/tmp/.X11-unix/X{n}"):
                break
            time.sleep(0.05)
        yield {**os.environ, "MAMMODESK_HOME": str(home), "DISPLAY": f":{n}",
               "QT_QPA_PLATFORM": "xcb"}
    finally:
        server.terminate()
        server.wait(10)
