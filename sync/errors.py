"""Sync errors a user (or IT) may see: one line, no patient data, no secrets.

The sync loop decides what to do from the class: auth and TLS problems stop
the queue until someone fixes the configuration; offline and transient
problems wait and retry; a rejected object is marked failed with its reason.
"""

from __future__ import annotations

from engine.errors import MammoDeskError


class SyncError(MammoDeskError):
    """Sync cannot go on (configuration, server, network)."""


class ConfigError(SyncError):
    """The cloud settings are missing or unsafe (plain http, bad URL, no CA file)."""


class AuthError(SyncError):
    """The server refused the credentials (401/403), or none are stored."""


class TlsError(SyncError):
    """The server's certificate could not be verified (unknown CA, wrong host name)."""


class OfflineError(SyncError):
    """The server cannot be reached: no network, DNS failure, refused, timed out."""


class TransientError(SyncError):
    """A failure worth retrying: connection dropped mid-request, 5xx, 429.

    ``retry_after`` is the server's Retry-After in seconds, when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RejectedError(SyncError):
    """The server refused an object for good (4xx other than auth/409/429)."""
