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
``cloud.dev_plain_http`` is on, so a redirect cannot downgrade either.
"""

from __future__ import annotations

import ssl
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
import truststore
from requests.adapters import HTTPAdapter

from sync.config import CloudConfig, url_problem
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


def ssl_context(cfg: CloudConfig) -> ssl.SSLContext:
    """TLS >= 1.2, certificate and host name required; OS trust store + cfg.ca_bundle.

    truststore's context verifies through the platform's own verifier
    (SChannel on Windows, Security.framework on macOS) and on Linux through
    OpenSSL with the system CA locations.  Certificates added with
    ``load_verify_locations`` are trusted as well as the system store on every
    platform; on Linux this was checked with a throwaway CA (tests/unit/
    test_sync_http.py): a server signed by the bundle's CA verifies, one
    signed by another CA does not, and the host name is still checked.  So no
    fallback to ``ssl.create_default_context()`` is needed.
    """
    ctx = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
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


class _VerifiedAdapter(HTTPAdapter):
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


class _PlainAdapter(HTTPAdapter):
    """Plain http only where the configuration allows it (loopback, dev flag)."""

    def __init__(self, cfg: CloudConfig) -> None:
        self._cfg = cfg
        super().__init__(pool_connections=_POOL_CONNECTIONS, pool_maxsize=_POOL_MAXSIZE)

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
             ) -> requests.Response:
        check_url(request.url or "", self._cfg)
        return super().send(request, *args, **kwargs)


def make_session(cfg: CloudConfig) -> requests.Session:
    """A session for the cloud: verified TLS, explicit proxy, no environment."""
    check_url(cfg.url, cfg)
    session = requests.Session()
    session.trust_env = False
    session.verify = True
    session.headers["User-Agent"] = USER_AGENT
    session.adapters.clear()
    session.mount("https://", _VerifiedAdapter(ssl_context(cfg)))
    session.mount("http://", _PlainAdapter(cfg))
    if cfg.proxy:
        session.proxies = {"http": cfg.proxy, "https": cfg.proxy}
    return session
