"""Answers from the cloud read under a size cap, requests under a whole-request deadline.

requests reads a body whole, with no cap, and its timeout applies to each socket
read.  A server that announces a 10 GiB body or streams an endless chunked one
would fill the memory; one that drips a byte every few seconds (or reads an
upload that slowly) never trips a per-read timeout and hangs the sync for good.
So every request to the cloud (``sync.transport.send``) goes out with
``stream=True`` inside a ``Deadline``, and its answer is read by ``read_capped``:

- a Content-Length over the cap is refused before any of the body is read;
- any body, chunked or not, is read in blocks and refused as soon as it passes
  the cap (blocks are counted after gzip/deflate decoding, which urllib3 >= 2.6
  does a block at a time);
- when the deadline for the whole request (connect, send, receive) passes, a
  watchdog thread shuts the connection's socket down, so a send or receive that
  is blocked, or still trickling, returns at once.

Each is an error of that request only; the caller turns it into a
``TransientError`` (a broken server is treated like a flaky one: the sync loop
backs off and tries again later, and nothing queued is lost).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

import requests

from sync.errors import TransientError

MIB = 1024 * 1024
# A STOW-RS answer names each instance sent (at most 200 per request; a few hundred
# bytes each in DICOM JSON, about 1 kB in XML): well under 1 MB.  8 MiB leaves room
# for verbose servers and is nothing to the workstation.
STOW_ANSWER_MAX = 8 * MIB
# A QIDO-RS page of 1000 instances: Orthanc adds about 20 default attributes to each
# row (about 2 kB), so 2 MB; 16 MiB leaves room for servers that add many more.
QIDO_PAGE_MAX = 16 * MIB
# A token or device authorization answer is a small JSON document (a JWT is a few kB).
TOKEN_ANSWER_MAX = 1 * MIB
# Anything else: a reachability check, a sign-in check, an error page.
SMALL_ANSWER_MAX = 1 * MIB

# The whole-request deadline of small requests (QIDO pages, tokens, checks): long
# enough for a 16 MiB page over a thin clinic link, short enough not to hang a day.
SMALL_DEADLINE_S = 300.0
# The slowest upload still taken for progress (bytes per second): a STOW-RS request
# gets the small deadline plus its size at this rate (a full 64 MB batch: ~35 min).
MIN_UPLOAD_RATE = 32 * 1024
_BLOCK = 64 * 1024

_local = threading.local()


def upload_deadline(base: float, size: int, *, rate_limit: float | None = None,
                    min_rate: float = MIN_UPLOAD_RATE) -> float:
    """Seconds allowed for a request that sends ``size`` bytes.

    ``base`` covers connecting and the server's answer; the upload gets ``size``
    at ``min_rate`` bytes per second, or at half the configured bandwidth cap
    (``rate_limit``) when that is slower, so a capped link is never cut off.
    """
    rate = min_rate
    if rate_limit:
        rate = min(rate, rate_limit / 2)
    return base + max(0, size) / max(rate, 1.0)


def _socket_of(conn: Any) -> socket.socket | None:
    sock = conn if isinstance(conn, socket.socket) else getattr(conn, "sock", None)
    for _ in range(4):  # urllib3's SSLTransport (TLS through an https proxy) wraps one
        if sock is None or isinstance(sock, socket.socket):
            return sock
        sock = getattr(sock, "socket", None)
    return None


def _abort(conn: Any) -> None:
    sock = _socket_of(conn)
    if sock is None:
        return
    # socket.socket's own shutdown, not SSLSocket's: from another thread, only the
    # file descriptor is shut; the blocked call sees the end and returns.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Deadline:
    """``with Deadline(seconds):`` connections used in the block are cut when it passes.

    Connections (or sockets) are attached as they are used (``attach``: the
    session's connection classes do it for every request, so an upload is
    covered too, and ``read_capped`` for the socket an answer is read from).
    ``expired`` says whether the watchdog fired.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.expired = False
        self._lock = threading.Lock()
        self._conns: list[Any] = []
        self._outer: Deadline | None = None
        self._timer = threading.Timer(max(0.0, self.seconds), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        self._outer = getattr(_local, "deadline", None)
        _local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _local.deadline = self._outer
        with self._lock:
            self._conns.clear()

    def attach(self, conn: Any) -> None:
        with self._lock:
            if self.expired:
                _abort(conn)
            elif all(c is not conn for c in self._conns):
                self._conns.append(conn)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for conn in self._conns:
                _abort(conn)


def attach(conn: Any) -> None:
    """Put ``conn`` under this thread's current deadline, if there is one."""
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None and conn is not None:
        deadline.attach(conn)


def too_large(host: str, cap: int) -> TransientError:
    return TransientError(f"the answer from {host} was too large (over {cap // MIB} MB); "
                          "trying again later")


def _response_socket(resp: requests.Response) -> socket.socket | None:
    """The socket a response reads from: http.client hands it over from the
    connection (whose ``sock`` is then None) when the server closes after the answer."""
    fp = getattr(getattr(resp.raw, "_fp", None), "fp", None)  # BufferedReader over SocketIO
    sock = getattr(getattr(fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def read_capped(resp: requests.Response, cap: int, host: str) -> bytes:
    """The body of a ``stream=True`` response, or TransientError past ``cap`` bytes."""
    length = resp.headers.get("Content-Length", "")
    if length.strip().isdigit() and int(length) > cap:
        raise too_large(host, cap)
    attach(getattr(resp.raw, "connection", None))  # a session without our connections
    attach(_response_socket(resp))
    body = bytearray()
    for block in resp.iter_content(_BLOCK):
        body += block
        if len(body) > cap:
            raise too_large(host, cap)
    return bytes(body)
