"""The running MammoDesk's version, as reports and model-package checks state it."""

from __future__ import annotations

import importlib.metadata

FALLBACK_APP_VERSION = "0.2.0"  # a source checkout that was never installed


def app_version() -> str:
    """The running MammoDesk's version: ``engine.__version__``, else the installed metadata."""
    import engine

    version = getattr(engine, "__version__", None)
    if isinstance(version, str) and version:
        return version
    try:
        return importlib.metadata.version("mammodesk")
    except importlib.metadata.PackageNotFoundError:
        return FALLBACK_APP_VERSION
