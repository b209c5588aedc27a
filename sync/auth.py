"""Signing in to the cloud: HTTP Basic, or OAuth2 bearer tokens.

- ``basic``: the user's password from the system keyring.
- ``oauth2-client``: the client-credentials grant (RFC 6749 section 4.4) with
  the client secret from the keyring, sent as HTTP Basic (client_secret_basic).
- ``oauth2-device``: a person signs in once in a browser (device
  authorization grant, RFC 8628, ``device_sign_in``); the refresh token goes
  to the keyring and buys access tokens from then on (and is replaced when
  the server rotates it).

Access tokens live in memory only and are renewed before they run out.  Every
call to the token endpoint goes through ``sync.transport.send`` on the same
session as the DICOMweb traffic, so the TLS, proxy and plain-http rules are
the same.  No token or secret ever reaches a log, a ``repr`` or an error.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import requests
from requests.auth import AuthBase, HTTPBasicAuth
from requests.cookies import extract_cookies_to_jar

from sync import credentials
from sync.bounded import SMALL_ANSWER_MAX, TOKEN_ANSWER_MAX
from sync.config import CloudConfig
from sync.errors import AuthError, ConfigError, OfflineError, TransientError
from sync.http import check_url, timeout
from sync.transport import send

log = logging.getLogger(__name__)

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
RENEW_BEFORE_S = 60.0  # renew when less than this (or a tenth of the lifetime) is left
DEFAULT_LIFETIME_S = 300.0  # when the server does not say (expires_in is optional)
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_LOGIN_AGAIN = "run `python main.py login` again"

Clock = Callable[[], float]


class _NoAuth(AuthBase):
    """Explicitly none (so a session-wide ``session.auth`` is not applied)."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        return r


class _BasicAuth(HTTPBasicAuth):
    def __repr__(self) -> str:  # never the password
        return f"BasicAuth(user={self.username!r})"


class _ClientAuth(HTTPBasicAuth):
    """client_secret_basic: both parts form-urlencoded first (RFC 6749 section 2.3.1)."""

    def __init__(self, client_id: str, secret: str) -> None:
        super().__init__(quote(client_id, safe=""), quote(secret, safe=""))

    def __repr__(self) -> str:
        return "ClientAuth()"


# -- the token endpoint ------------------------------------------------------------------


def _retry_after(resp: requests.Response) -> float | None:
    try:
        return max(0.0, float(resp.headers.get("Retry-After", "")))
    except ValueError:
        return None


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_code(body: dict[str, Any]) -> str:
    code = body.get("error")
    return code if isinstance(code, str) and _CODE.match(code) else ""


def _post(cfg: CloudConfig, session: requests.Session, url: str, data: dict[str, str],
          auth: AuthBase) -> tuple[int, dict[str, Any]]:
    """POST a form to an OAuth2 endpoint: (status, JSON body); 5xx/429 -> TransientError."""
    check_url(url, cfg)
    resp = send(session, "POST", url, data=data, auth=auth, timeout=timeout(cfg),
                headers={"Accept": "application/json"}, allow_redirects=False,
                max_bytes=TOKEN_ANSWER_MAX, deadline=cfg.request_deadline)
    with resp:
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(f"the cloud sign-in service is unavailable "
                                 f"(HTTP {resp.status_code})", _retry_after(resp))
        return resp.status_code, _json(resp)


def _refused(status: int, body: dict[str, Any], what: str) -> AuthError:
    code = _error_code(body)
    if code == "invalid_client":
        return AuthError("the cloud refused the client credentials (invalid_client): check "
                         "cloud.client_id and the stored client secret")
    if code == "invalid_grant":
        return AuthError(f"the cloud sign-in has expired: {_LOGIN_AGAIN}")
    if code == "unauthorized_client":
        return AuthError(f"the cloud does not allow {what} for this client (unauthorized_client):"
                         " check cloud.auth and cloud.client_id")
    if code == "invalid_scope":
        return AuthError("the cloud refused the requested scope (invalid_scope): check "
                         "cloud.scope")
    detail = f"{code}, HTTP {status}" if code else f"HTTP {status}"
    return AuthError(f"the cloud sign-in service refused {what} ({detail})")


def _access_token(status: int, body: dict[str, Any], what: str) -> tuple[str, float]:
    """(access token, lifetime in seconds) from a token response, or AuthError."""
    if status != 200:
        raise _refused(status, body, what)
    token = body.get("access_token")
    kind = str(body.get("token_type", "")).lower()
    if not isinstance(token, str) or not token or kind != "bearer":
        raise AuthError("the cloud sign-in service did not answer with a bearer token: "
                        "check cloud.token_url")
    try:
        lifetime = float(body.get("expires_in", DEFAULT_LIFETIME_S))
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME_S
    return token, max(lifetime, 1.0)


# -- bearer tokens on requests -----------------------------------------------------------


class _BearerAuth(AuthBase):
    """Adds a cached access token; renews it early; one fresh try after a 401."""

    def __init__(self, fetch: Callable[[], tuple[str, float]], now: Clock, name: str) -> None:
        self._fetch = fetch
        self._now = now
        self._name = name
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def __repr__(self) -> str:  # never the token
        return f"BearerAuth({self._name})"

    def token(self) -> str:
        with self._lock:
            if self._token is None or self._now() >= self._renew_at:
                token, lifetime = self._fetch()
                margin = min(RENEW_BEFORE_S, lifetime / 10)
                self._token, self._renew_at = token, self._now() + lifetime - margin
                log.info("cloud access token obtained (%s, valid %.0f s)", self._name, lifetime)
            return self._token

    def _drop(self, used: str) -> None:
        with self._lock:
            if self._token == used:
                self._token = None

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self.token()}"
        r.register_hook("response", self._on_response)
        return r

    def _on_response(self, resp: requests.Response, **kwargs: Any) -> requests.Response:
        if resp.status_code != 401:
            return resp
        sent = resp.request.headers.get("Authorization", "")
        if (not isinstance(sent, str) or not sent.startswith("Bearer ")
                or getattr(resp.request, "_mammodesk_retried", False)):
            return resp  # not our token (a redirect elsewhere), or already the second try
        self._drop(sent[len("Bearer "):])
        body = resp.request.body
        if body is not None and not isinstance(body, (bytes, str)):
            resp.close()  # a stream was consumed: the caller sends the whole request again
            # Transient, not an auth failure: the sync loop sends the whole
            # request again, with a fresh token; a second refusal is an AuthError.
            raise TransientError("the cloud refused the access token during an upload; it "
                                 "will be sent again with a fresh token")
        # Not read: a hostile 401 body could be endless.  Closing costs one reconnect.
        resp.close()
        retry = resp.request.copy()
        retry._mammodesk_retried = True  # type: ignore[attr-defined]
        jar = retry._cookies  # None only before a request is prepared
        if jar is not None:
            extract_cookies_to_jar(jar, resp.request, resp.raw)
        retry.prepare_cookies(jar)
        retry.headers["Authorization"] = f"Bearer {self.token()}"
        second = resp.connection.send(retry, **kwargs)
        second.history.append(resp)
        second.request = retry
        return second


def _client_credentials(cfg: CloudConfig, session: requests.Session,
                        secret: str) -> Callable[[], tuple[str, float]]:
    def fetch() -> tuple[str, float]:
        data = {"grant_type": "client_credentials"}
        if cfg.scope:
            data["scope"] = cfg.scope
        status, body = _post(cfg, session, cfg.token_url, data, _ClientAuth(cfg.client_id, secret))
        return _access_token(status, body, "the client credentials")
    return fetch


def _refresh_grant(cfg: CloudConfig, session: requests.Session) -> Callable[[], tuple[str, float]]:
    def fetch() -> tuple[str, float]:
        refresh = credentials.get_refresh_token(cfg.client_id)
        if not refresh:
            raise AuthError("not signed in to the cloud: run `python main.py login`")
        data = {"grant_type": "refresh_token", "refresh_token": refresh,
                "client_id": cfg.client_id}
        status, body = _post(cfg, session, cfg.token_url, data, _NoAuth())
        token = _access_token(status, body, "the stored sign-in")
        rotated = body.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh:
            credentials.store_refresh_token(cfg.client_id, rotated)
            log.info("cloud sign-in renewed (refresh token rotated)")
        return token
    return fetch


def make_auth(cfg: CloudConfig, session: requests.Session, *,
              now: Clock = time.monotonic) -> AuthBase:
    """The ``auth=`` for DICOMweb requests in the configured mode.

    Stored secrets are read now (AuthError when missing); tokens are fetched
    on the first request.  ``now`` is the clock tokens expire by (tests).
    """
    if cfg.auth == "basic":
        password = credentials.get_password(cfg.user)
        if password is None:
            raise AuthError(f"no cloud password is stored for {cfg.user}: run "
                            f"`python main.py login --user {cfg.user} --password-stdin`")
        return _BasicAuth(cfg.user, password)
    if cfg.auth == "oauth2-client":
        secret = credentials.get_client_secret(cfg.client_id)
        if secret is None:
            raise AuthError(f"no client secret is stored for the OAuth2 client {cfg.client_id}: "
                            "run `python main.py login --password-stdin` with the secret")
        return _BearerAuth(_client_credentials(cfg, session, secret), now, "client credentials")
    if cfg.auth == "oauth2-device":
        if credentials.get_refresh_token(cfg.client_id) is None:
            raise AuthError("not signed in to the cloud: run `python main.py login`")
        return _BearerAuth(_refresh_grant(cfg, session), now, "device sign-in")
    raise ConfigError("cloud.auth must be one of basic, oauth2-client, oauth2-device")


# -- signing in ------------------------------------------------------------------------


def device_sign_in(cfg: CloudConfig, session: requests.Session,
                   show: Callable[[str, str], None], *,
                   sleep: Callable[[float], None] = time.sleep,
                   now: Clock = time.monotonic) -> None:
    """RFC 8628: show where to sign in and the code, wait, keep the refresh token."""
    if not (cfg.device_url and cfg.token_url and cfg.client_id):
        raise ConfigError("device sign-in needs cloud.device_url, cloud.token_url and "
                          "cloud.client_id")
    data = {"client_id": cfg.client_id}
    if cfg.scope:
        data["scope"] = cfg.scope
    status, body = _post(cfg, session, cfg.device_url, data, _NoAuth())
    if status != 200:
        raise _refused(status, body, "the device sign-in")
    device_code, user_code = body.get("device_code"), body.get("user_code")
    uri = body.get("verification_uri_complete") or body.get("verification_uri")
    if not all(isinstance(v, str) and v for v in (device_code, user_code, uri)):
        raise AuthError("the cloud's device sign-in answer is incomplete: check "
                        "cloud.device_url")
    try:
        interval = max(1.0, float(body.get("interval", 5)))
        deadline = now() + float(body.get("expires_in", 900))
    except (TypeError, ValueError):
        raise AuthError("the cloud's device sign-in answer is malformed") from None
    show(str(uri), str(user_code))
    poll = {"grant_type": DEVICE_GRANT, "device_code": str(device_code),
            "client_id": cfg.client_id}
    while True:
        sleep(interval)
        if now() >= deadline:
            raise AuthError(f"the sign-in code expired before it was used: {_LOGIN_AGAIN}")
        status, body = _post(cfg, session, cfg.token_url, poll, _NoAuth())
        code = _error_code(body) if status != 200 else ""
        if code == "authorization_pending":
            continue
        if code == "slow_down":
            interval += 5
            continue
        if code == "expired_token":
            raise AuthError(f"the sign-in code expired before it was used: {_LOGIN_AGAIN}")
        if code == "access_denied":
            raise AuthError("the sign-in was declined in the browser; nothing was stored")
        _access_token(status, body, "the device sign-in")
        refresh = body.get("refresh_token")
        if not isinstance(refresh, str) or not refresh:
            raise AuthError("the cloud signed in but issued no refresh token, so the sign-in "
                            "cannot be kept: ask IT to allow refresh tokens for this client")
        credentials.store_refresh_token(cfg.client_id, refresh)
        log.info("cloud device sign-in completed")
        return


_UNCHECKED = "could not be checked now (the cloud cannot be reached); it will be used at the " \
             "next sync"


def login_basic(cfg: CloudConfig, session: requests.Session, user: str, password: str) -> str:
    """Check the password against the cloud, then keep it in the keyring."""
    if not user or not password:
        raise AuthError("a user name and a password are needed to sign in")
    check_url(cfg.url, cfg)
    try:
        resp = send(session, "GET", f"{cfg.url}/studies", params={"limit": "1"},
                    auth=_BasicAuth(user, password), timeout=timeout(cfg),
                    headers={"Accept": "application/dicom+json"}, allow_redirects=False,
                    max_bytes=SMALL_ANSWER_MAX, deadline=cfg.request_deadline)
    except (OfflineError, TransientError):
        credentials.store_password(user, password)
        return f"the password for {user} is in the system keyring but {_UNCHECKED}"
    with resp:
        status = resp.status_code
    if status in (401, 403):
        raise AuthError(f"the cloud refused the user name or password for {user} "
                        f"(HTTP {status}); nothing was stored")
    if status >= 500 or status == 429:
        credentials.store_password(user, password)
        return f"the password for {user} is in the system keyring but {_UNCHECKED}"
    if not 200 <= status < 300:
        raise ConfigError(f"the cloud answered HTTP {status} to a studies query: check that "
                          "cloud.url is the DICOMweb root; nothing was stored")
    credentials.store_password(user, password)
    return f"signed in as {user}; the password is in the system keyring"


def login_client_secret(cfg: CloudConfig, session: requests.Session, secret: str) -> str:
    """Check the client secret with one token request, then keep it in the keyring."""
    if not cfg.client_id or not cfg.token_url:
        raise ConfigError("client sign-in needs cloud.client_id and cloud.token_url")
    if not secret:
        raise AuthError("a client secret is needed to sign in")
    try:
        _client_credentials(cfg, session, secret)()
    except (OfflineError, TransientError):
        credentials.store_client_secret(cfg.client_id, secret)
        return (f"the client secret for {cfg.client_id} is in the system keyring but "
                f"{_UNCHECKED}")
    credentials.store_client_secret(cfg.client_id, secret)
    return f"signed in as the client {cfg.client_id}; the secret is in the system keyring"
