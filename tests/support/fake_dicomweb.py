"""A scripted DICOMweb server on loopback: STOW-RS and QIDO-RS answers chosen by the test."""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# -- the fake server ------------------------------------------------------------

@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None  # read this many body bytes, then reset the connection


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    length: int = 0
    sha256: str = ""
    body: bytes | None = None


class FakeDicomWeb:
    """A plain-HTTP loopback server; answers come from ``script`` in order."""

    def __init__(self, keep_bodies: bool = True) -> None:
        self.seen: list[Seen] = []
        self.script: deque[Answer | Callable[[Seen], Answer]] = deque()
        self.keep_bodies = keep_bodies
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(self.command, parts.path, parse_qs(parts.query),
                            {k.lower(): v for k, v in self.headers.items()})
                answer = server.script.popleft() if server.script else Answer(200, b"[]")
                limit = int(self.headers.get("Content-Length") or 0)
                if answer is not None and not callable(answer) and answer.drop_after is not None:
                    limit = min(limit, answer.drop_after)
                digest = hashlib.sha256()
                kept = bytearray() if server.keep_bodies else None
                while seen.length < limit:
                    block = self.rfile.read(min(64 * 1024, limit - seen.length))
                    if not block:
                        break
                    seen.length += len(block)
                    digest.update(block)
                    if kept is not None:
                        kept += block
                seen.sha256 = digest.hexdigest()
                seen.body = bytes(kept) if kept is not None else None
                server.seen.append(seen)
                if callable(answer):
                    answer = answer(seen)
                if answer.drop_after is not None:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up first

            do_GET = do_POST = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.01,),
                                       daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/dicom-web"

    def answer(self, status: int = 200, body: bytes | dict | list = b"",
               content_type: str | None = "application/dicom+json", **headers: str) -> None:
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
        if content_type:
            hdrs["Content-Type"] = content_type
        self.script.append(Answer(status, body, hdrs))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
