"""Where MammoDesk keeps what it writes.

``MAMMODESK_HOME=DIR`` (or ``--home DIR``) puts everything (library,
settings, logs, caches, demo data) under DIR, which tests and outside checks
rely on.  Without it the platform's usual folders are used (platformdirs), so
a packaged install behaves like any other desktop application.
``MAMMODESK_LIBRARY`` (or ``--library DIR``) moves only the case library,
e.g. to a larger data disk.  A home or library that names a file (or lies
under one) is refused with one line, before anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from engine.errors import MammoDeskError

HOME_ENV = "MAMMODESK_HOME"
LIBRARY_ENV = "MAMMODESK_LIBRARY"
APP_NAME = "MammoDesk"


@dataclass(frozen=True)
class AppPaths:
    library: Path
    config: Path
    cache: Path
    logs: Path
    demo: Path
    models: Path  # installed model packages and which one is active


def checked_folder(value: str | os.PathLike[str], what: str) -> Path:
    """The folder a setting names; refused when it, or what it lies under, is a file."""
    path = Path(value).expanduser().absolute()
    for existing in (path, *path.parents):
        try:
            found = existing.exists() or existing.is_symlink()
            folder = existing.is_dir()
        except OSError:  # not ours to look into: whatever writes there reports it
            break
        if found:
            if not folder:
                where = "" if existing == path else f" ({existing} is a file)"
                raise MammoDeskError(f"the {what} {path} is not a folder{where}; "
                                     "give a folder (it is created if missing)")
            break
    return path


def _home_paths(home: str | os.PathLike[str] | None) -> AppPaths:
    if home:
        root = checked_folder(home, "MammoDesk home")
        return AppPaths(
            library=root / "library",
            config=root / "config",
            cache=root / "cache",
            logs=root / "logs",
            demo=root / "demo",
            models=root / "models",
        )
    dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
    data = Path(dirs.user_data_dir)
    return AppPaths(
        library=data / "library",
        config=Path(dirs.user_config_dir),
        cache=Path(dirs.user_cache_dir),
        logs=Path(dirs.user_log_dir),
        demo=data / "demo",
        models=data / "models",
    )


def app_paths(home: str | os.PathLike[str] | None = None,
              library: str | os.PathLike[str] | None = None) -> AppPaths:
    """Resolve every folder: explicit arguments, then environment, then platform defaults.

    Raises MammoDeskError when the home or library folder given is a file.
    """
    home = home or os.environ.get(HOME_ENV) or None
    library = library or os.environ.get(LIBRARY_ENV) or None
    paths = _home_paths(home)
    if library:
        paths = AppPaths(checked_folder(library, "library folder"), paths.config, paths.cache,
                         paths.logs, paths.demo, paths.models)
    return paths


def default_library(home: str | os.PathLike[str] | None = None) -> Path:
    """The library folder when nothing moves it (no --library, MAMMODESK_LIBRARY
    or library.path setting): in the home, else in the platform's data folder."""
    return _home_paths(home or os.environ.get(HOME_ENV) or None).library
