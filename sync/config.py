"""The cloud settings, read once and checked before anything goes on the wire.

``cloud_config`` turns the flat settings (``Settings(...).all()``) into a
``CloudConfig`` and refuses anything unsafe or incomplete with one line that
says which setting to fix: no URL, plain http to anything but a loopback
address (and there only with ``cloud.dev_plain_http=yes``), a CA bundle file
that is not there, an OAuth2 mode without its endpoints, basic sign-in
without a user name.  Secrets are never settings: passwords, client secrets
and refresh tokens live in the system keyring (``sync.credentials``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from engine.urls import url_problem
from sync.bounded import MIN_UPLOAD_RATE, SMALL_DEADLINE_S
from sync.errors import ConfigError

AUTH_MODES = ("basic", "oauth2-client", "oauth2-device")


@dataclass(frozen=True)
class CloudConfig:
    url: str  # DICOMweb root, no trailing slash
    user: str = ""
    auth: str = "basic"  # basic | oauth2-client | oauth2-device
    ca_bundle: str = ""
    token_url: str = ""
    device_url: str = ""
    client_id: str = ""
    scope: str = ""
    proxy: str = ""
    dev_plain_http: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    # Whole-request limits (sync/bounded.py): a small request must be over within
    # request_deadline seconds; an upload gets its size at min_upload_rate (B/s) more.
    request_deadline: float = SMALL_DEADLINE_S
    min_upload_rate: float = MIN_UPLOAD_RATE


def proxy_problem(proxy: str) -> str | None:
    """Why ``proxy`` (cloud.proxy) is not usable, or None (also when it is empty)."""
    if not proxy:
        return None
    try:
        parts = urlsplit(proxy)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        ok = False
    if not ok:
        return "cloud.proxy must be http://HOST:PORT or https://HOST:PORT"
    if parts.username is not None or parts.password is not None:
        return ("cloud.proxy must not carry a user name or password "
                "(settings hold no secrets)")
    return None


def cloud_config(settings: dict[str, str]) -> CloudConfig:
    """The checked cloud configuration, or ConfigError naming the setting to fix."""
    def get(key: str) -> str:
        return str(settings.get(key, "") or "").strip()

    url = get("cloud.url").rstrip("/")
    if not url:
        raise ConfigError("no cloud is configured: set cloud.url")
    dev = get("cloud.dev_plain_http").lower()
    if dev not in ("", "yes", "no"):
        raise ConfigError("cloud.dev_plain_http must be yes or no")
    dev_plain_http = dev == "yes"
    problem = url_problem(url, "cloud.url", dev_plain_http)
    if problem:
        raise ConfigError(problem)

    auth = get("cloud.auth") or "basic"
    if auth not in AUTH_MODES:
        raise ConfigError(f"cloud.auth must be one of {', '.join(AUTH_MODES)}")
    user, token_url, device_url = get("cloud.user"), get("cloud.token_url"), get("cloud.device_url")
    client_id = get("cloud.client_id")
    if auth == "basic" and not user:
        raise ConfigError("basic sign-in needs a user name: set cloud.user")
    if auth.startswith("oauth2"):
        if not token_url:
            raise ConfigError(f"cloud.auth={auth} needs the token endpoint: set cloud.token_url")
        if not client_id:
            raise ConfigError(f"cloud.auth={auth} needs a client ID: set cloud.client_id")
    if auth == "oauth2-device" and not device_url:
        raise ConfigError("cloud.auth=oauth2-device needs the device authorization endpoint: "
                          "set cloud.device_url")
    for key, value in (("cloud.token_url", token_url), ("cloud.device_url", device_url)):
        problem = url_problem(value, key, dev_plain_http) if value else None
        if problem:
            raise ConfigError(problem)

    ca_bundle = get("cloud.ca_bundle")
    if ca_bundle and not Path(ca_bundle).is_file():
        raise ConfigError(f"no CA bundle file at {ca_bundle} (cloud.ca_bundle)")

    proxy = get("cloud.proxy")
    problem = proxy_problem(proxy)
    if problem:
        raise ConfigError(problem)

    return CloudConfig(url=url, user=user, auth=auth, ca_bundle=ca_bundle, token_url=token_url,
                       device_url=device_url, client_id=client_id, scope=get("cloud.scope"),
                       proxy=proxy, dev_plain_http=dev_plain_http)
