"""A fault-injecting TCP proxy for loopback tests (threads, standard library).

    proxy = FaultProxy("127.0.0.1", cloud.https_port).start()
    proxy.plan([Fault("reset", after_bytes=200_000), None, Fault("refuse")])
    ... client talks to https://localhost:{proxy.port} ...
    proxy.stop()

Bytes pass through untouched, so TLS works end to end (the server's
certificate names "localhost", and so does the client's URL).  Connection i
(0-based, counted from the last plan() call) gets faults[i]; None or a
connection beyond the list passes cleanly.

Fault kinds, all counting client->server bytes forwarded on that connection:
  reset   when after_bytes have been forwarded: close both sides with an RST
  drop    the same, but a quiet close (FIN): the server "went away"
  stall   when after_bytes have been forwarded: forward nothing in either
          direction for `seconds`, then continue (then="continue") or close
          quietly (then="close")
  refuse  accept the connection and close it at once
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass

KINDS = ("reset", "drop", "stall", "refuse")
CHUNK = 64 * 1024
TICK_S = 0.05  # how often blocked loops look at the stop flag
DRAIN_S = 2.0  # how long a quiet close reads what the client still sends


@dataclass(frozen=True)
class Fault:
    kind: str
    after_bytes: int = 0
    seconds: float = 0.0
    then: str = "continue"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {KINDS}")
        if self.after_bytes < 0 or self.seconds < 0:
            raise ValueError("after_bytes and seconds must not be negative")
        if self.then not in ("continue", "close"):
            raise ValueError("then must be 'continue' or 'close'")


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.connections = 0  # accepted since start()
        self.faults_fired = 0  # since start()
        self.errors: list[BaseException] = []  # unexpected errors in handler threads
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._plan: list[Fault | None] = []
        self._plan_next = 0
        self._listener: socket.socket | None = None
        self._threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()

    # -- life cycle
    def start(self) -> FaultProxy:
        if self._listener is not None:
            raise RuntimeError("FaultProxy already started")
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, "accept")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close everything and wait for every thread the proxy started."""
        self._stopping.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:  # wakes threads blocked in send/recv
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                threads = [t for t in self._threads if t is not threading.current_thread()]
            if not threads:
                break
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                raise RuntimeError(f"FaultProxy threads still running: {threads}")
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> FaultProxy:
        return self.start() if self._listener is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def plan(self, faults: list[Fault | None]) -> None:
        """Connection i from now on gets faults[i]; later ones pass cleanly."""
        with self._lock:
            self._plan = list(faults)
            self._plan_next = 0

    # -- internals
    def _spawn(self, target, name: str, *args) -> None:
        thread = threading.Thread(target=self._run, args=(target, *args),
                                  name=f"faultproxy-{self.port}-{name}", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _run(self, target, *args) -> None:
        try:
            target(*args)
        except OSError:
            pass  # a peer or stop() closed the socket: the end of that connection
        except BaseException as exc:  # kept for the test to inspect, never printed
            self.errors.append(exc)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _close(self, sock: socket.socket | None, rst: bool = False) -> None:
        if sock is None:
            return
        if rst:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            sock.close()
        with self._lock:
            self._sockets.discard(sock)

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        while not self._stopping.is_set():
            ready, _, _ = select.select([listener], [], [], TICK_S)
            if not ready:
                continue
            try:
                client, _ = listener.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
                index = self._plan_next
                self._plan_next += 1
                fault = self._plan[index] if index < len(self._plan) else None
            if self._stopping.is_set():
                self._close(client, rst=True)
                break
            self._track(client)
            self._spawn(self._serve, f"conn{index}", client, fault)

    def _fire(self) -> None:
        with self._lock:
            self.faults_fired += 1

    def _serve(self, client: socket.socket, fault: Fault | None) -> None:
        upstream = None
        try:
            if fault is not None and fault.kind == "refuse":
                self._fire()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                self._close(client, rst=True)  # what a client of a dead server sees
                return
            upstream.settimeout(None)
            self._track(upstream)
            self._pump(client, upstream, fault)
        finally:
            self._close(client)
            self._close(upstream)

    def _pump(self, client: socket.socket, upstream: socket.socket,
              fault: Fault | None) -> None:
        forwarded = 0
        open_from = {client: upstream, upstream: client}  # reader -> writer
        while open_from and not self._stopping.is_set():
            if fault is not None and forwarded >= fault.after_bytes:
                self._fire()
                if fault.kind == "reset":
                    self._close(client, rst=True)
                    self._close(upstream, rst=True)
                    return
                if fault.kind == "drop":
                    self._quiet_close(client, upstream)
                    return
                self._stopping.wait(fault.seconds)  # stall
                if fault.then == "close":
                    self._quiet_close(client, upstream)
                    return
                fault = None
                continue
            ready, _, _ = select.select(list(open_from), [], [], TICK_S)
            for reader in ready:
                size = CHUNK
                if reader is client and fault is not None:
                    size = min(CHUNK, fault.after_bytes - forwarded)
                try:
                    data = reader.recv(size)
                except OSError:  # a reset from one side goes on to the other
                    self._close(client, rst=True)
                    self._close(upstream, rst=True)
                    return
                writer = open_from[reader]
                if not data:
                    with contextlib.suppress(OSError):
                        writer.shutdown(socket.SHUT_WR)
                    del open_from[reader]
                    continue
                writer.sendall(data)
                if reader is client:
                    forwarded += len(data)

    def _quiet_close(self, client: socket.socket, upstream: socket.socket) -> None:
        """Close with FIN: send ours, then read (and drop) what the client still
        sends, because closing with unread data would make the kernel send RST."""
        self._close(upstream)
        with contextlib.suppress(OSError):
            client.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + DRAIN_S
        while not self._stopping.is_set() and time.monotonic() < deadline:
            ready, _, _ = select.select([client], [], [], TICK_S)
            if ready:
                try:
                    if not client.recv(CHUNK):
                        break
                except OSError:
                    break
        self._close(client)
