"""The one way MammoDesk talks HTTP to the cloud: a requests session that
always verifies TLS against the operating system's trust store plus the
hospital's own CA (``cloud.ca_bundle``), whatever the environment says.

Why not ``session.verify = bundle``: requests lets ``REQUESTS_CA_BUNDLE`` and
``CURL_CA_BUNDLE`` replace a session-level ``verify``, and a ``verify=`` passed
per request (or certifi's bundle, which requests adds by default) ends up
loaded into the connection's context.  Here the session ignores the
environment (``trust_env = False``: no env proxies, CA variables or netrc),
and the HTTPS adapter pins every connection pool - direct and through the
proxy - to one ``ssl.SSLContext`` built below, dropping whatever ``verify``
or client-certificate arguments a caller passes.  Plain http is refused by
its own adapter unless the URL is a loopback address and
``cloud.dev_plain_http`` is on.

Redirects are never followed: the session refuses every 3xx with a Location
(ConfigError, before its body is read), so an answer - a confirmation above
all - only ever comes from the configured origin, whatever a call site asks.
Every connection it opens is put under the current request's deadline
(sync/bounded.py), so a request that trickles is cut off, upload included.
"""

from __future__ import annotations

import os
import re
import ssl
import sys
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
import truststore
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from engine.urls import url_problem
from sync import bounded
from sync.config import CloudConfig
from sync.errors import ConfigError

_POOL_CONNECTIONS = 2  # hosts kept (the cloud, its token endpoint)
_POOL_MAXSIZE = 4  # connections per host


def _version() -> str:
    try:
        return metadata.version("mammodesk")
    except metadata.PackageNotFoundError:
        return "dev"


USER_AGENT = f"MammoDesk/{_version()}"


def timeout(cfg: CloudConfig) -> tuple[float, float]:
    """(connect, read) seconds for ``requests``' ``timeout=``."""
    return (cfg.connect_timeout, cfg.read_timeout)


def check_url(url: str, cfg: CloudConfig) -> None:
    """ConfigError unless ``url`` is https, or plain http to loopback in dev mode."""
    problem = url_problem(url, _origin(url), cfg.dev_plain_http)
    if problem:
        raise ConfigError(problem)


def _origin(url: str) -> str:
    """Scheme, host and port only: no path or query (which may carry IDs) in messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "the URL"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}" if parts.netloc else "the URL"


# Where Linux distributions keep the system's CA bundle, for an OpenSSL built
# with another prefix (a bundled build): the list truststore itself falls back to.
_CA_FILE_CANDIDATES = (
    "/etc/ssl/cert.pem",  # Alpine, Arch, Fedora 34-43, RHEL 9-10, BSD
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",  # Fedora 44+, RHEL 11+
    "/etc/pki/tls/cert.pem",  # older Fedora, RHEL, CentOS
    "/etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu
    "/etc/ssl/ca-bundle.pem",  # SUSE
)
_HASHED_NAME = re.compile(r"^[0-9a-fA-F]{8}\.[0-9]$")


def _has_hashed_certs(folder: str) -> bool:
    try:
        return any(_HASHED_NAME.match(name) for name in os.listdir(folder))
    except OSError:
        return False


def system_ca_locations() -> tuple[str | None, str | None]:
    """(CA file, CA folder) of the operating system's store on Linux, from no variable.

    ``ssl.get_default_verify_paths()`` gives both what the environment says
    (``cafile``/``capath``: SSL_CERT_FILE, SSL_CERT_DIR) and what OpenSSL was
    built with (``openssl_cafile``/``openssl_capath``): only the latter is the
    system's.  If neither exists, the distributions' usual bundle files.
    """
    paths = ssl.get_default_verify_paths()
    cafile = paths.openssl_cafile if os.path.isfile(paths.openssl_cafile) else None
    capath = paths.openssl_capath if _has_hashed_certs(paths.openssl_capath) else None
    if cafile or capath:
        return cafile, capath
    return next((f for f in _CA_FILE_CANDIDATES if os.path.isfile(f)), None), None


def _system_context() -> ssl.SSLContext:
    """A client context trusting the operating system's store, and only that.

    On Windows and macOS, truststore verifies through the platform's own
    verifier (SChannel, Security.framework), which no environment variable
    changes.  On Linux truststore would call ``set_default_verify_paths`` on
    every connection, and OpenSSL then reads SSL_CERT_FILE and SSL_CERT_DIR:
    any process environment could add a CA.  So on Linux the system's CA file
    and folder are loaded by their built-in paths instead (which is all that
    truststore does there, minus the environment).
    """
    if sys.platform in ("win32", "darwin"):
        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cafile, capath = system_ca_locations()
    if cafile or capath:
        ctx.load_verify_locations(cafile=cafile, capath=capath)
    return ctx


def ssl_context(cfg: CloudConfig) -> ssl.SSLContext:
    """TLS >= 1.2, certificate and host name required; OS trust store + cfg.ca_bundle.

    Nothing in the environment adds trust (``_system_context``).  Certificates
    added with ``load_verify_locations`` are trusted as well as the system
    store on every platform; on Linux this was checked with a throwaway CA
    (tests/unit/test_sync_http.py): a server signed by the bundle's CA
    verifies, one signed by another CA does not, and the host name is still
    checked.
    """
    ctx = _system_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_hostname = True
    if cfg.ca_bundle:
        try:
            ctx.load_verify_locations(cafile=cfg.ca_bundle)
        except FileNotFoundError:
            raise ConfigError(f"no CA bundle file at {cfg.ca_bundle} (cloud.ca_bundle)") from None
        except (ssl.SSLError, OSError, ValueError):
            raise ConfigError(f"the CA bundle {cfg.ca_bundle} is not a PEM certificate file "
                              "(cloud.ca_bundle)") from None
    return ctx


# -- connections under the request's deadline ----------------------------------------


class _DeadlineHTTPConnection(HTTPConnection):
    """Attached to the current deadline for each request it carries, and once connected."""

    def connect(self) -> None:
        super().connect()
        bounded.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        bounded.attach(self)  # a kept-alive connection, reused for this request
        super().request(*args, **kwargs)


class _DeadlineHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        bounded.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        bounded.attach(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _DeadlineHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlinePools(HTTPAdapter):
    """Connection pools (direct and through a proxy) whose connections keep deadlines."""

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


class _VerifiedAdapter(_DeadlinePools):
    """HTTPS through one fixed, verifying SSLContext, direct or through a proxy."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._context = context  # before super().__init__, which builds the pool manager
        super().__init__(pool_connections=_POOL_CONNECTIONS, pool_maxsize=_POOL_MAXSIZE)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False,
                         **pool_kwargs: Any) -> None:
        pool_kwargs["ssl_context"] = self._context
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self._context
        if proxy.lower().startswith("https://"):
            proxy_kwargs["proxy_ssl_context"] = self._context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(self, request: requests.PreparedRequest,
                                             verify: Any, cert: Any = None
                                             ) -> tuple[dict[str, Any], dict[str, Any]]:
        # Whatever verify/cert the caller (or the environment) gave: our context, verified.
        host_params, _ = super().build_connection_pool_key_attributes(request, True, None)
        return host_params, {"ssl_context": self._context, "cert_reqs": "CERT_REQUIRED"}

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        # requests would put certifi's (or the caller's) bundle into our context here.
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


class _PlainAdapter(_DeadlinePools):
    """Plain http only where the configuration allows it (loopback, dev flag)."""

    def __init__(self, cfg: CloudConfig) -> None:
        self._cfg = cfg
        super().__init__(pool_connections=_POOL_CONNECTIONS, pool_maxsize=_POOL_MAXSIZE)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        check_url(request.url or "", self._cfg)
        return super().send(request, *args, **kwargs)


class _OriginSession(requests.Session):
    """Never follows a redirect: a 3xx with a Location is an error of that request."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        # requests asks this before it reads the redirect's body or follows it,
        # with or without allow_redirects: the one place no call site can skip.
        target = super().get_redirect_target(resp)
        if target is None:
            return None
        resp.close()
        raise ConfigError(f"the cloud answered with a redirect (HTTP {resp.status_code}) "
                          "instead of an answer; redirects are not followed: set cloud.url "
                          "to the address that answers")


def make_session(cfg: CloudConfig) -> requests.Session:
    """A session for the cloud: verified TLS, explicit proxy, no environment, no redirects."""
    check_url(cfg.url, cfg)
    session = _OriginSession()
    session.max_redirects = 0
    session.trust_env = False
    session.verify = True
    session.headers["User-Agent"] = USER_AGENT
    session.adapters.clear()
    session.mount("https://", _VerifiedAdapter(ssl_context(cfg)))
    session.mount("http://", _PlainAdapter(cfg))
    if cfg.proxy:
        session.proxies = {"http": cfg.proxy, "https": cfg.proxy}
    return session
