"""The data MammoDesk ships, found through importlib.resources.

The top-level ``resources`` package is installed with MammoDesk as package
data, so an installed MammoDesk reads its own copy wherever it lives, and a
checkout reads the one in the tree.  The model loader and the
de-identification table open real files: a wheel installs MammoDesk as files
on disk, where ``files("resources")`` is a real folder; an installation that
is not (a zip archive) is refused with one clear line.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from engine.errors import MammoDeskError

PACKAGE = "resources"
BUILTIN_MODEL_NAME = "mammodesk-phantom"
DEID_TABLE_NAME = "annex_e_2024b.json"


def resources_root() -> Path:
    """The folder of the installed ``resources`` package."""
    try:
        root = files(PACKAGE)
    except ModuleNotFoundError:
        raise MammoDeskError(
            "MammoDesk's resources are not installed; reinstall MammoDesk"
        ) from None
    if not isinstance(root, Path):
        raise MammoDeskError(
            "MammoDesk's resources are not a folder on disk; install MammoDesk unzipped"
        )
    return root


def builtin_model_dir() -> Path:
    """The model package shipped with MammoDesk (synthetic-trained, not for clinical use)."""
    return resources_root() / "models" / BUILTIN_MODEL_NAME


def deid_table_path() -> Path:
    """The de-identification rule table (PS3.15 Annex E Table E.1-1, edition 2024b)."""
    return resources_root() / "deid" / DEID_TABLE_NAME
