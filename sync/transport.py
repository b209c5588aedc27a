"""One HTTP request, with the transport's failures turned into sync errors.

What went wrong decides what the sync loop does next, so the mapping is
careful: a certificate that does not verify is a TLS error (stop and tell
IT), a server that cannot be reached at all is "offline" (wait quietly), and
a connection that breaks mid-request, or a TLS handshake cut short, is
transient (retry with backoff).  HTTP status codes are the caller's: this
module only deals with getting bytes there and back.

It also bounds every request (sync/bounded.py): the answer is read here under
a size cap, and the whole request, upload included, under a deadline; an
answer too large or a request past its deadline is transient too (a broken
server is treated like a flaky one).  The response comes back already read.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from requests import exceptions as rex

from sync.bounded import SMALL_ANSWER_MAX, SMALL_DEADLINE_S, Deadline, read_capped
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
        reason = getattr(exc, "reason", None)
        if isinstance(reason, BaseException):
            exc = reason
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


def send(session: requests.Session, method: str, url: str, *,
         max_bytes: int = SMALL_ANSWER_MAX, deadline: float = SMALL_DEADLINE_S,
         **kwargs: Any) -> requests.Response:
    """``session.request`` with transport failures mapped to sync errors.

    The answer is read whole before this returns, at most ``max_bytes`` of it,
    and the request (connect, send, receive) must be over within ``deadline``
    seconds; either limit passed is a TransientError.
    """
    host = _host(url)
    kwargs["stream"] = True
    with Deadline(deadline) as watch:
        try:
            resp = session.request(method, url, **kwargs)
            try:
                content = read_capped(resp, max_bytes, host)
            except BaseException:
                resp.close()  # drops the connection: the rest of the body is never read
                raise
        except (OSError, urllib3.exceptions.HTTPError) as exc:  # requests' errors are OSErrors
            if watch.expired:
                raise TransientError(f"{host} did not finish the request within "
                                     f"{deadline:.0f} s; trying again later") from None
            mapped = _mapped(exc, host)
            if mapped is None:
                raise
            raise mapped from None
    resp._content = content  # requests' own slot: .content, .text and .json() read it
    resp._content_consumed = True
    return resp


def _mapped(exc: BaseException, host: str) -> Exception | None:
    """The sync error for a transport failure, or None for one of another kind."""
    if isinstance(exc, rex.SSLError):
        problem = certificate_problem(exc)
        if problem and "mismatch" in problem.lower():
            return TlsError(f"the certificate of {host} is not trusted: it is not issued for "
                            f"that host name ({problem.rstrip('.')}); check cloud.url")
        if problem:
            return TlsError(f"the certificate of {host} is not trusted ({problem.rstrip('.')}); "
                            "check cloud.url and cloud.ca_bundle")
        return TransientError(f"the secure connection to {host} broke off")
    if isinstance(exc, rex.ProxyError):
        return OfflineError(f"the proxy refused or dropped the connection to {host}")
    if isinstance(exc, rex.ConnectTimeout):
        return OfflineError(f"{host} did not answer (connection timed out)")
    if isinstance(exc, rex.ReadTimeout):
        return TransientError(f"{host} stopped answering mid-request (timed out)")
    if isinstance(exc, (rex.ChunkedEncodingError, rex.ContentDecodingError)):
        return TransientError(f"the answer from {host} broke off")
    if isinstance(exc, rex.ConnectionError):
        inner = _cause(exc)
        text = str(exc)
        if "NewConnectionError" in text or "NameResolutionError" in text or (isinstance(
                inner, (ConnectionRefusedError, OSError)) and "refused" in str(inner).lower()):
            return OfflineError(f"{host} cannot be reached (no network, or the server is down)")
        return TransientError(f"the connection to {host} broke off mid-request")
    return None
