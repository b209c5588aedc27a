"""Files at rest: whatever the user's umask, nothing MammoDesk writes under
its home is readable by another user, and a library left open is closed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import ROOT

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI


def _cli_with_umask(umask: int, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAMMODESK_HOME": str(home)}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300,
                          preexec_fn=lambda: os.umask(umask))
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _open_to_others(home: Path) -> list[str]:
    loose = []
    for path in [home, *home.rglob("*")]:
        if path.is_symlink():
            continue
        if path.stat().st_mode & 0o077:
            loose.append(f"{path.relative_to(home)} {stat.filemode(path.stat().st_mode)}")
    return loose


def test_everything_written_is_private_under_a_loose_umask(tmp_path: Path, small_cohort) -> None:
    home = tmp_path / "home"
    done = _cli_with_umask(0o022, "import", "--no-ai", str(small_cohort.out_dir), home=home)
    assert done.returncode == 0, done.stderr
    done = _cli_with_umask(0o022, "studies", home=home)
    assert done.returncode == 0, done.stderr
    library = home / "library"
    names = {p.name for p in library.iterdir()}
    assert "library.db" in names and (library / "files").is_dir()
    assert (home / "logs" / "mammodesk.log").is_file()
    assert _open_to_others(home) == []


def test_a_library_found_open_is_tightened_and_the_log_says_so(tmp_path: Path,
                                                               small_cohort) -> None:
    home = tmp_path / "home"
    done = _cli_with_umask(0o022, "import", "--no-ai", str(small_cohort.out_dir), home=home)
    assert done.returncode == 0, done.stderr
    # As an older MammoDesk, or a restored backup, would have left it.
    for path in [home, *home.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    assert _open_to_others(home)
    done = _cli_with_umask(0o022, "studies", home=home)
    assert done.returncode == 0, done.stderr
    assert _open_to_others(home / "library") == []
    assert _open_to_others(home / "logs") == []
    log = (home / "logs" / "mammodesk.log").read_text(encoding="utf-8")
    assert "the library was readable by other users" in log
    assert "made private to this user" in log
