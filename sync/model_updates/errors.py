"""Model update errors: one line each, no credentials, no patient data.

The command line maps them to exit statuses: configuration errors to 2, an
unreachable repository to 3, everything else (a repository or package that
fails verification, a certificate that does not verify, a full disk) to 1.
"""

from __future__ import annotations

from engine.errors import MammoDeskError


class ModelUpdateError(MammoDeskError):
    """The check failed; the active model and installed packages are unchanged."""


class ModelUpdateConfigError(ModelUpdateError):
    """models.url, models.root or models.channel is missing or unsafe."""


class ModelRepoOffline(ModelUpdateError):
    """The model repository cannot be reached (network down, refused, timed out)."""


class ModelRepoRejected(ModelUpdateError):
    """The repository or the package failed verification (signature, expiry, hashes)."""


class ModelRepoTlsError(ModelUpdateError):
    """The repository's certificate does not verify (models.url, cloud.ca_bundle)."""
