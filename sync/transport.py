"""One HTTP request, with the transport's failures turned into sync errors.

What went wrong decides what the sync loop does next, so the mapping is
careful: a certificate that does not verify is a TLS error (stop and tell
IT), a server that cannot be reached at all is "offline" (wait quietly), and
a connection that breaks mid-request, or a TLS handshake cut short, is
transient (retry with backoff).  HTTP status codes are the caller's: this
module only deals with getting bytes there and back.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
from requests import exceptions as rex

from sync.errors import OfflineError, TlsError, TransientError

_VERIFY_WORDS = ("certificate verify failed", "hostname mismatch", "doesn't match",
                 "does not match", "self-signed", "self signed", "unable to get local issuer")


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def _cause(exc: BaseException) -> BaseException:
    """The innermost exception (urllib3 wraps the ssl/socket error twice)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = exc.__cause__ or exc.__context__
        if inner is None and exc.args and isinstance(exc.args[0], BaseException):
            inner = exc.args[0]
        if inner is None:
            break
        exc = inner
        if getattr(exc, "reason", None) is not None and isinstance(exc.reason, BaseException):
            exc = exc.reason
    return exc


def certificate_problem(exc: BaseException) -> str | None:
    """A one-line description when ``exc`` is a failed certificate check."""
    inner = _cause(exc)
    if isinstance(inner, ssl.SSLCertVerificationError):
        return str(getattr(inner, "verify_message", "") or inner.reason or "not verified")
    text = str(exc).lower()
    for word in _VERIFY_WORDS:
        if word in text:
            return word
    return None


def send(session: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
    """``session.request`` with transport failures mapped to sync errors."""
    host = _host(url)
    try:
        return session.request(method, url, **kwargs)
    except rex.SSLError as exc:
        problem = certificate_problem(exc)
        if problem and "mismatch" in problem.lower():
            raise TlsError(f"the certificate of {host} is not trusted: it is not issued for "
                           f"that host name ({problem.rstrip('.')}); check cloud.url") from None
        if problem:
            raise TlsError(f"the certificate of {host} is not trusted ({problem.rstrip('.')}); "
                           "check cloud.url and cloud.ca_bundle") from None
        raise TransientError(f"the secure connection to {host} broke off") from None
    except rex.ProxyError:
        raise OfflineError(f"the proxy refused or dropped the connection to {host}") from None
    except rex.ConnectTimeout:
        raise OfflineError(f"{host} did not answer (connection timed out)") from None
    except rex.ReadTimeout:
        raise TransientError(f"{host} stopped answering mid-request (timed out)") from None
    except (rex.ChunkedEncodingError, rex.ContentDecodingError):
        raise TransientError(f"the answer from {host} broke off") from None
    except rex.ConnectionError as exc:
        inner = _cause(exc)
        text = str(exc)
        if "NewConnectionError" in text or "NameResolutionError" in text or (isinstance(
                inner, (ConnectionRefusedError, OSError)) and "refused" in str(inner).lower()):
            raise OfflineError(f"{host} cannot be reached (no network, or the server is "
                               "down)") from None
        raise TransientError(f"the connection to {host} broke off mid-request") from None
