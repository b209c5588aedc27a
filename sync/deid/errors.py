"""De-identification errors a user (or IT) may see: one line, no patient data."""

from engine.errors import MammoDeskError


class DeidError(MammoDeskError):
    """De-identification cannot run (configuration, keys, output folder)."""


class DeidKeyError(DeidError):
    """The site's de-identification key is missing or the keyring is unusable."""
