"""What every command needs before it runs: its folders (``--home``,
``--library``, the library.path setting), the log, pydicom's settings, and
MammoDesk's folders closed to other users."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from engine import private
from engine.dicom.config import configure_pydicom
from engine.errors import MammoDeskError
from engine.paths import HOME_ENV, LIBRARY_ENV, AppPaths, app_paths, checked_folder
from engine.settings import Settings
from ui.cli.output import note

LOG_NAME = "mammodesk.log"
log = logging.getLogger("mammodesk")


def resolve_paths(args: argparse.Namespace) -> AppPaths:
    """The folders this run uses; a home or library that is a file is refused."""
    paths = app_paths(args.home, args.library)
    if args.home:
        # Worker processes read the same settings (decoding limits, profiles).
        os.environ[HOME_ENV] = str(Path(args.home).expanduser().absolute())
    return configured_library(paths, args.library)


def configured_library(paths: AppPaths, explicit: str | None) -> AppPaths:
    """The library folder from Settings, unless --library or MAMMODESK_LIBRARY
    names one."""
    if explicit or os.environ.get(LIBRARY_ENV):
        return paths
    try:
        configured = Settings(paths.config).get("library.path")
    except MammoDeskError as exc:
        note(f"warning: {exc}; using the default library")
        return paths
    if not configured:
        return paths
    return dataclasses.replace(
        paths, library=checked_folder(configured, "library folder (setting library.path)"))


def log_file(paths: AppPaths) -> Path:
    return paths.logs / LOG_NAME


def setup_logging(paths: AppPaths, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        paths.logs.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.handlers.RotatingFileHandler(
            log_file(paths), maxBytes=5_000_000, backupCount=3, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(fmt)
    root.addHandler(handler)
    # Warnings belong in the log, not the user's terminal.
    logging.captureWarnings(True)
    configure_pydicom()
    if verbose:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(fmt)
        root.addHandler(stream)


def make_private(paths: AppPaths) -> None:
    """Close MammoDesk's own folders to other users (the library sees to itself)."""
    folders = [paths.config, paths.cache, paths.logs, paths.demo, paths.models]
    logs = [paths.logs / name for name in os.listdir(paths.logs)] if paths.logs.is_dir() else []
    changed = private.tighten([*folders, *logs])
    if changed:
        log.warning("%d of MammoDesk's folders and logs were readable by other users: "
                    "made private to this user", changed)
