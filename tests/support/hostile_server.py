"""A loopback HTTP server that misbehaves on purpose: one mode per misbehaviour.

Each mode is one way a hostile or broken cloud can try to exhaust or hang the
workstation, or make it believe something the cloud does not hold:

- ``HUGE_LENGTH``: announces a 10 GiB body, then sends blanks until the client leaves;
- ``ENDLESS_CHUNKED``: a chunked body that never ends;
- ``GZIP_BOMB``: a gzip body of 100 KB that inflates to 100 MB;
- ``DRIP``: answers at once, then drips the body one byte every ``interval`` seconds
  (each byte well inside any per-read timeout);
- ``SLOW_READER``: takes the request body a little at a time (``read_rate`` bytes per
  second), so an upload never finishes and never times out per read;
- ``FULL_PAGES``: a QIDO answer that is always a full page of UIDs never seen before;
- ``REDIRECT``: 302 to ``location`` (another server) plus the request's path and query;
- ``LISTING``: a QIDO answer listing ``listing`` (what a redirect target offers);
- ``OK``: 200 with an empty body (a STOW-RS that stored and named nothing).

``modes`` picks a mode per HTTP method (``{"POST": OK, "GET": FULL_PAGES}``).  So
that a client without the protections cannot hang or eat the test machine, every
endless mode gives up after ``give_up_s`` seconds or ``max_bytes`` bytes.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import json
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

HUGE_LENGTH = "huge-length"
ENDLESS_CHUNKED = "endless-chunked"
GZIP_BOMB = "gzip-bomb"
DRIP = "drip"
SLOW_READER = "slow-reader"
FULL_PAGES = "full-pages"
REDIRECT = "redirect"
LISTING = "listing"
OK = "ok"

_BLOCK = b" " * 65536  # blanks: a JSON or XML prefix that never becomes an answer


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    body_bytes: int


class _Handler(socketserver.StreamRequestHandler):
    server: _Server
    rbufsize = 0  # unbuffered: the slow reader takes the body straight off the socket

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client gave up, as most tests want
            self._handle()

    def _handle(self) -> None:
        line = self.rfile.readline(65536).decode("latin-1").split()
        if len(line) < 2:
            return
        method, target = line[0], line[1]
        headers: dict[str, str] = {}
        while (raw := self.rfile.readline(65536)) not in (b"\r\n", b"\n", b""):
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = urlsplit(target)
        mode = self.server.modes.get(method, self.server.mode)
        length = int(headers.get("content-length") or 0)
        got = self._slow_read(length) if mode == SLOW_READER else self._read(length)
        request = Request(method, parts.path, parse_qs(parts.query), parts.query, got)
        self.server.requests.append(request)
        getattr(self, "_" + mode.replace("-", "_"))(request)

    # -- reading the request ----------------------------------------------------------
    def _read(self, length: int) -> int:
        got = 0
        while got < length:
            block = self.rfile.read(min(65536, length - got))
            if not block:
                break
            got += len(block)
        return got

    def _slow_read(self, length: int) -> int:
        """``read_rate`` bytes a second, in ticks of 50 ms (so no read ever waits long)."""
        got = 0
        step = max(1, int(self.server.read_rate * 0.05))
        while got < length and not self._should_stop():
            tick = 0
            while tick < min(step, length - got):
                block = self.connection.recv(min(step - tick, length - got - tick))
                if not block:
                    return got + tick
                tick += len(block)
            got += tick
            time.sleep(0.05)
        return got

    # -- answers --------------------------------------------------------------------------
    def _should_stop(self) -> bool:
        return (self.server.stopping.is_set()
                or time.monotonic() - self.started > self.server.give_up_s)

    def setup(self) -> None:
        super().setup()
        self.started = time.monotonic()

    def _head(self, status: int, headers: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in headers.items()]
        self.connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def _answer(self, status: int, body: bytes, **headers: str) -> None:
        self._head(status, {"Content-Type": "application/dicom+json", **headers,
                            "Content-Length": str(len(body)), "Connection": "close"})
        self.connection.sendall(body)

    def _stream(self, framing: bytes = b"", end: bytes = b"") -> None:
        sent = 0
        while sent < self.server.max_bytes and not self._should_stop():
            self.connection.sendall(framing + _BLOCK + end)
            sent += len(_BLOCK)
            self.server.bytes_sent += len(_BLOCK)

    def _huge_length(self, _: Request) -> None:
        self._head(200, {"Content-Type": "application/dicom+json",
                         "Content-Length": str(10 * 2**30), "Connection": "close"})
        self._stream()

    def _endless_chunked(self, _: Request) -> None:
        self._head(200, {"Content-Type": "application/dicom+json",
                         "Transfer-Encoding": "chunked", "Connection": "close"})
        self._stream(b"%x\r\n" % len(_BLOCK), b"\r\n")

    def _gzip_bomb(self, _: Request) -> None:
        self._answer(200, _bomb(), **{"Content-Encoding": "gzip"})

    def _drip(self, _: Request) -> None:
        body = b"[" + b" " * 10_000 + b"]"
        self._head(200, {"Content-Type": "application/dicom+json",
                         "Content-Length": str(len(body)), "Connection": "close"})
        for i in range(len(body)):
            if self._should_stop():
                return
            self.connection.sendall(body[i:i + 1])
            self.server.bytes_sent += 1
            time.sleep(self.server.interval)

    def _slow_reader(self, _: Request) -> None:
        self._answer(200, b"")

    def _ok(self, _: Request) -> None:
        self._answer(200, b"")

    def _full_pages(self, request: Request) -> None:
        limit = int((request.query.get("limit") or ["100"])[0])
        with self.server.lock:
            start = self.server.counter
            self.server.counter += limit
        self._answer(200, json.dumps(rows([f"2.25.7{start + i}" for i in range(limit)])).encode())

    def _listing(self, request: Request) -> None:
        limit = int((request.query.get("limit") or ["100"])[0])
        offset = int((request.query.get("offset") or ["0"])[0])
        chosen = list(self.server.listing)[offset:offset + limit]
        self._answer(200, json.dumps(rows(chosen)).encode())

    def _redirect(self, request: Request) -> None:
        query = f"?{request.raw_query}" if request.raw_query else ""
        self._answer(302, b"", Location=self.server.location + request.path + query)


@functools.cache
def _bomb() -> bytes:
    return gzip.compress(b" " * (100 * 1024 * 1024), 9)


def rows(uids: list[str]) -> list[dict[str, object]]:
    """QIDO-RS rows (DICOM JSON) naming ``uids`` as SOP Instance UIDs."""
    return [{"00080018": {"vr": "UI", "Value": [uid]}} for uid in uids]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.mode = OK
        self.modes: dict[str, str] = {}
        self.interval = 0.5
        self.read_rate = 640 * 1024
        self.give_up_s = 15.0
        self.max_bytes = 256 * 1024 * 1024
        self.location = ""
        self.listing: list[str] = []
        self.requests: list[Request] = []
        self.counter = 0
        self.bytes_sent = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # A small receive buffer, so a slow reader holds an upload back at once.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        super().server_bind()

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass


class HostileServer:
    """``HostileServer(mode)``; ``url`` is its DICOMweb root; ``close()`` stops it."""

    def __init__(self, mode: str = OK, **settings: object) -> None:
        self._server = _Server()
        self._server.mode = mode
        if mode == GZIP_BOMB:
            _bomb()  # made now, not while a test measures the client's memory
        for name, value in settings.items():
            if not hasattr(self._server, name):
                raise TypeError(f"no setting {name}")
            setattr(self._server, name, value)
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        port = self._server.server_address[1]
        self.origin = f"http://127.0.0.1:{port}"
        self.url = f"{self.origin}/dicom-web"

    def __getattr__(self, name: str) -> object:
        return getattr(self._server, name)

    def close(self) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
