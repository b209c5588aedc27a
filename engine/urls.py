"""The rules every URL MammoDesk is given must follow (cloud, token and
device endpoints): https to a named host, no credentials in the URL, plain
http only to a loopback address and only when development mode allows it.

Checked when a setting is saved and again when a connection is made; both
use these functions, so the two can never disagree.  Parsing only: nothing
here touches the network.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def is_loopback(host: str | None) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1 (the only hosts plain http may reach)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(url: str, what: str, dev_plain_http: bool) -> str | None:
    """Why ``url`` may not be used (one line), or None when it is fine.

    ``dev_plain_http`` is the cloud.dev_plain_http setting; a setting being
    saved passes True (the flag may be set afterwards; connecting checks it)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return f"{what} is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return f"{what} must start with https:// and name a host"
    if parts.username is not None or parts.password is not None:
        return (f"{what} must not carry a user name or password "
                "(the password goes to the system keyring through `login`)")
    if parts.scheme == "http":
        if not is_loopback(host):
            return (f"{what} uses plain http to {host}: only https is allowed "
                    "(plain http only to a loopback address, for development)")
        if not dev_plain_http:
            return (f"{what} uses plain http: set cloud.dev_plain_http=yes to allow it "
                    "on a loopback address (development only)")
    return None
