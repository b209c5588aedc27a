"""dcmtk's servers as outside DICOM peers on loopback, for tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def storescp(folder: Path, ae_title: str = "STORESCP", *extra: str) -> Iterator[int]:
    """dcmtk's storescp listening on a free loopback port (yielded) until the block ends."""
    exe = shutil.which("storescp")
    if exe is None:
        raise RuntimeError("dcmtk's storescp is not installed (Debian package dcmtk)")
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    proc = subprocess.Popen([exe, "--aetitle", ae_title, "--output-directory", str(folder),
                             *extra, str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("storescp did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
