"""The fault-injecting proxy against tiny loopback servers."""

from __future__ import annotations

import http.client
import http.server
import socket
import socketserver
import threading
import time

import pytest

from tests.support.faultproxy import Fault, FaultProxy

PAYLOAD = bytes(range(256)) * 256  # 64 KiB


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        got = 0
        try:
            while data := self.request.recv(65536):
                got += len(data)
                self.request.sendall(data)
        except OSError:
            pass
        finally:
            self.server.received.append(got)  # type: ignore[attr-defined]


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.received: list[int] = []


@pytest.fixture
def echo():
    server = _EchoServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def proxy(echo):
    before = set(threading.enumerate())
    with FaultProxy("127.0.0.1", echo.server_address[1]) as running:
        yield running
    leaked = [t for t in threading.enumerate()
              if t not in before and t.name.startswith("faultproxy")]
    assert not leaked, leaked
    assert not running.errors


def _connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=5)
    return sock


def _exchange(sock: socket.socket, payload: bytes) -> bytes:
    """Send payload, half-close, read until EOF."""
    sock.sendall(payload)
    sock.shutdown(socket.SHUT_WR)
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    return b"".join(chunks)


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_clean_connections_pass_bytes_through_unchanged(proxy, echo):
    for _ in range(3):
        with _connect(proxy) as sock:
            assert _exchange(sock, PAYLOAD) == PAYLOAD
    assert proxy.connections == 3
    assert proxy.faults_fired == 0
    _wait_for(lambda: echo.received == [len(PAYLOAD)] * 3)


def test_http_through_the_proxy():
    class Quiet(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep the connection open between requests

        def do_GET(self) -> None:
            body = b"hello " + self.path.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        with FaultProxy("127.0.0.1", server.server_address[1]) as proxy:
            conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
            for path in ("/a", "/b"):  # two requests on one kept-alive connection
                conn.request("GET", path)
                answer = conn.getresponse()
                assert (answer.status, answer.read()) == (200, b"hello " + path.encode())
            conn.close()
            assert proxy.connections == 1
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_reset_fires_at_the_byte_count_and_later_connections_pass(proxy, echo):
    proxy.plan([Fault("reset", after_bytes=1000)])
    with _connect(proxy) as sock, pytest.raises(ConnectionResetError):
        _exchange(sock, PAYLOAD)
    _wait_for(lambda: len(echo.received) == 1)
    assert echo.received == [1000]  # the server saw exactly the first 1000 bytes
    assert proxy.faults_fired == 1
    with _connect(proxy) as sock:
        assert _exchange(sock, PAYLOAD) == PAYLOAD
    assert proxy.connections == 2


def test_drop_closes_quietly(proxy, echo):
    proxy.plan([Fault("drop", after_bytes=500)])
    with _connect(proxy) as sock:
        answer = _exchange(sock, PAYLOAD)  # an end of stream, not a reset
    assert len(answer) <= 500
    _wait_for(lambda: len(echo.received) == 1)
    assert echo.received == [500]
    assert proxy.faults_fired == 1


def test_stall_then_continue_delays_but_delivers(proxy):
    proxy.plan([Fault("stall", after_bytes=100, seconds=0.5)])
    with _connect(proxy) as sock:
        started = time.monotonic()
        assert _exchange(sock, PAYLOAD) == PAYLOAD
        elapsed = time.monotonic() - started
    assert 0.5 <= elapsed < 2.0
    assert proxy.faults_fired == 1


def test_stall_then_close_ends_the_connection(proxy, echo):
    proxy.plan([Fault("stall", after_bytes=100, seconds=0.3, then="close")])
    with _connect(proxy) as sock:
        started = time.monotonic()
        answer = _exchange(sock, PAYLOAD)
        elapsed = time.monotonic() - started
    assert len(answer) <= 100
    assert 0.3 <= elapsed < 2.0
    _wait_for(lambda: len(echo.received) == 1)
    assert echo.received == [100]


def test_refuse_accepts_and_closes_at_once(proxy, echo):
    proxy.plan([Fault("refuse"), None, Fault("refuse")])
    outcomes = []
    for _ in range(4):
        with _connect(proxy) as sock:
            try:
                outcomes.append(_exchange(sock, b"ping"))
            except OSError:  # reset, broken pipe or "not connected": all a refusal
                outcomes.append(b"")
    assert outcomes == [b"", b"ping", b"", b"ping"]
    assert proxy.connections == 4
    assert proxy.faults_fired == 2
    _wait_for(lambda: len(echo.received) == 2)  # refused ones never reached the server


def test_stop_ends_stalled_connections_without_waiting(echo):
    proxy = FaultProxy("127.0.0.1", echo.server_address[1]).start()
    proxy.plan([Fault("stall", seconds=60)])
    sock = _connect(proxy)
    _wait_for(lambda: proxy.faults_fired == 1)
    started = time.monotonic()
    proxy.stop()
    assert time.monotonic() - started < 2
    assert not [t for t in threading.enumerate() if t.name.startswith("faultproxy")]
    sock.close()


def test_bad_faults_are_refused():
    with pytest.raises(ValueError):
        Fault("explode")
    with pytest.raises(ValueError):
        Fault("stall", seconds=1, then="later")
