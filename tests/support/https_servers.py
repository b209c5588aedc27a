"""Loopback HTTP(S) servers with a throwaway CA, and a CONNECT proxy, for the sync tests."""

from __future__ import annotations

import datetime as dt
import json
import select
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# -- a throwaway PKI -------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path  # the "hospital" CA that cloud.ca_bundle names
    other_ca: Path  # a CA nobody configured
    good: tuple[Path, Path]  # cert + key for DNS:localhost signed by ``ca``
    rogue: tuple[Path, Path]  # cert + key for DNS:localhost signed by ``other_ca``


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key


def _leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey,
          ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert, key


def make_pki(folder: Path) -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    leaves: dict[str, tuple[Path, Path]] = {}
    for label in ("ca", "other_ca"):
        ca, ca_key = _ca(f"MammoDesk test {label}")
        paths[label] = folder / f"{label}.pem"
        paths[label].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        cert, key = _leaf(ca, ca_key)
        leaf = "good" if label == "ca" else "rogue"
        leaves[leaf] = (folder / f"{leaf}.crt", folder / f"{leaf}.key")
        leaves[leaf][0].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        leaves[leaf][1].write_bytes(_pem_key(key))
    return Pki(ca=paths["ca"], other_ca=paths["other_ca"], good=leaves["good"],
               rogue=leaves["rogue"])


# -- loopback servers ------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Reply = tuple[int, dict[str, str], bytes]
App = Callable[[Seen], Reply]


def json_reply(status: int, doc: object, headers: dict[str, str] | None = None) -> Reply:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(doc).encode()


def _ok(_: Seen) -> Reply:
    return json_reply(200, [])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every reply waits ~40 ms for a delayed ACK
    server: _Server

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return out
                out += chunk
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        seen = Seen(self.command, self.path, dict(self.headers.items()), self._body())
        self.server.seen.append(seen)
        status, headers, payload = self.server.app(seen)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _serve

    def log_message(self, *args: object) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: App, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.tls = tls
        self.seen: list[Seen] = []

    def finish_request(self, request, client_address) -> None:  # type: ignore[override]
        if self.tls is not None:  # handshake in the request's thread, not the accept loop
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass  # refused handshakes are what several tests expect


@dataclass
class Running:
    server: _Server
    url: str  # https://localhost:PORT (or http://127.0.0.1:PORT)
    port: int

    @property
    def seen(self) -> list[Seen]:
        return self.server.seen


class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            data = self.request.recv(4096)
            if not data:
                return
            head += data
        method, target = head.split(b"\r\n", 1)[0].decode().split()[:2]
        self.server.seen.append((method, target))  # type: ignore[attr-defined]
        if method != "CONNECT":
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, port = target.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=5) as upstream:
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            ends = [self.request, upstream]
            while True:
                readable, _, _ = select.select(ends, [], [], 5)
                if not readable:
                    return
                for end in readable:
                    data = end.recv(65536)
                    if not data:
                        return
                    (upstream if end is self.request else self.request).sendall(data)


class _Proxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.seen: list[tuple[str, str]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address) -> None:  # type: ignore[override]
        pass  # a tunnel closed by either end


class Servers:
    """Starts loopback servers and proxies; ``close`` stops them all."""

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self._all: list[socketserver.BaseServer] = []

    def _run(self, server: socketserver.BaseServer) -> None:
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self._all.append(server)

    def https(self, app: App = _ok, cert: str = "good") -> Running:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        chain = self.pki.good if cert == "good" else self.pki.rogue
        ctx.load_cert_chain(*chain)
        server = _Server(app, ctx)
        self._run(server)
        port = server.server_address[1]
        return Running(server, f"https://localhost:{port}", port)

    def http(self, app: App = _ok) -> Running:
        server = _Server(app, None)
        self._run(server)
        port = server.server_address[1]
        return Running(server, f"http://127.0.0.1:{port}", port)

    def proxy(self) -> _Proxy:
        proxy = _Proxy()
        self._run(proxy)
        return proxy

    def close(self) -> None:
        for server in self._all:
            server.shutdown()
            server.server_close()
