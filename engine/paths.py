"""Where MammoDesk keeps what it writes.

``MAMMODESK_HOME=DIR`` (or ``--home DIR``) puts everything (library,
settings, logs, caches, demo data) under DIR, which tests and outside checks
rely on.  Without it the platform's usual folders are used (platformdirs), so
a packaged install behaves like any other desktop application.
``MAMMODESK_LIBRARY`` (or ``--library DIR``) moves only the case library,
e.g. to a larger data disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

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


def app_paths(home: str | os.PathLike[str] | None = None,
              library: str | os.PathLike[str] | None = None) -> AppPaths:
    """Resolve every folder: explicit arguments, then environment, then platform defaults."""
    home = home or os.environ.get(HOME_ENV) or None
    library = library or os.environ.get(LIBRARY_ENV) or None
    if home:
        root = Path(home).expanduser().absolute()
        paths = AppPaths(
            library=root / "library",
            config=root / "config",
            cache=root / "cache",
            logs=root / "logs",
            demo=root / "demo",
            models=root / "models",
        )
    else:
        dirs = platformdirs.PlatformDirs(APP_NAME, appauthor=False)
        data = Path(dirs.user_data_dir)
        paths = AppPaths(
            library=data / "library",
            config=Path(dirs.user_config_dir),
            cache=Path(dirs.user_cache_dir),
            logs=Path(dirs.user_log_dir),
            demo=data / "demo",
            models=data / "models",
        )
    if library:
        paths = AppPaths(Path(library).expanduser().absolute(), paths.config, paths.cache,
                         paths.logs, paths.demo, paths.models)
    return paths
