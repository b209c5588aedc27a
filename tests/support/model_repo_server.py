"""A loopback HTTP server for a TUF model repository folder that can misbehave
per path, and records what was asked for.

    with RepoServer(folder) as server:
        server.faults["/metadata/timestamp.json"] = ENDLESS
        ... client talks to server.url ...
        assert "/targets/stable/x.tar" not in server.paths

Faults (by request path): ``TRUNCATE`` announces the file's full length,
sends half of it and closes the connection (the server went away);
``ENDLESS`` announces a 10 GiB body and sends blanks until the client leaves;
``STALL`` announces the file and sends nothing until the client leaves.
``overrides`` serves other bytes for a path (an attacker's copy).  So that a
client without protections cannot hang the test machine, an endless answer
stops after ``give_up_s`` seconds or ``max_bytes`` bytes.  ``folder_app``
serves a folder through tests/support/https_servers.py (TLS, proxies).
"""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from tests.support.https_servers import App, Reply, Seen

TRUNCATE = "truncate"
ENDLESS = "endless"
STALL = "stall"
_BLOCK = b" " * 65536


def _file(folder: Path, path: str) -> bytes | None:
    rel = Path(unquote(urlsplit(path).path).lstrip("/"))
    if ".." in rel.parts:
        return None
    target = folder / rel
    return target.read_bytes() if target.is_file() else None


def folder_app(folder: Path) -> App:
    """An https_servers App serving ``folder`` (GET), 404 for anything else."""
    def app(seen: Seen) -> Reply:
        data = _file(folder, seen.path)
        if data is None:
            return 404, {}, b""
        return 200, {"Content-Type": "application/octet-stream"}, data
    return app


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.server.paths.append(path)
        fault = self.server.faults.get(path)
        data = self.server.overrides.get(path)
        if data is None:
            data = _file(self.server.folder, path)
        with contextlib.suppress(OSError):  # the client left, as most tests want
            if fault == ENDLESS:
                self._endless()
            elif data is None:
                self._head(404, 0)
            elif fault == STALL:
                self._head(200, len(data))
                self.wfile.flush()
                self._wait()
            elif fault == TRUNCATE:
                self._head(200, len(data))
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
            else:
                self._head(200, len(data))
                self.wfile.write(data)
                return
        self.close_connection = True

    def _head(self, status: int, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def _wait(self) -> None:
        started = time.monotonic()
        while (time.monotonic() - started < self.server.give_up_s
               and not self.server.stopping.wait(0.05)):
            pass

    def _endless(self) -> None:
        self._head(200, 10 * 2**30)
        started = time.monotonic()
        while (self.server.bytes_sent < self.server.max_bytes
               and time.monotonic() - started < self.server.give_up_s
               and not self.server.stopping.is_set()):
            self.wfile.write(_BLOCK)
            self.server.bytes_sent += len(_BLOCK)

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder = Path(folder)
        self.faults: dict[str, str] = {}
        self.overrides: dict[str, bytes] = {}
        self.paths: list[str] = []
        self.bytes_sent = 0
        self.max_bytes = 512 * 1024 * 1024
        self.give_up_s = 20.0
        self.stopping = threading.Event()

    def handle_error(self, request, client_address) -> None:
        pass


class RepoServer:
    """Serves ``folder`` at ``url`` (ending in "/") until ``close()`` or the with-block ends."""

    def __init__(self, folder: Path) -> None:
        self._server = _Server(folder)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    @property
    def faults(self) -> dict[str, str]:
        return self._server.faults

    @property
    def overrides(self) -> dict[str, bytes]:
        return self._server.overrides

    @property
    def paths(self) -> list[str]:
        return self._server.paths

    @property
    def bytes_sent(self) -> int:
        return self._server.bytes_sent

    def close(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> RepoServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
