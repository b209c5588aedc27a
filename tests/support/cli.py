"""Running the command line as a user would, and checking a library on disk."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, home: Path, check_traceback: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MAMMODESK_HOME": str(home)}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        env.pop(name, None)  # no screen: commands that need one must say so
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check_traceback:
        assert "Traceback" not in done.stderr, done.stderr
    return done


def assert_library_consistent(root: Path) -> int:
    """Open the library (which recovers) and check rows and files agree; return count."""
    from engine.library import Library

    with Library(root) as lib:
        rows = lib.conn.execute("SELECT rel_path, sha256, file_size FROM instances").fetchall()
        pending = lib.conn.execute("SELECT COUNT(*) FROM pending_files").fetchone()[0]
        dangling = lib.conn.execute(
            "SELECT COUNT(*) FROM instances i LEFT JOIN series s USING (series_uid) "
            "LEFT JOIN studies t ON t.study_uid = i.study_uid "
            "WHERE s.series_uid IS NULL OR t.study_uid IS NULL").fetchone()[0]
    assert pending == 0
    assert dangling == 0
    on_disk = {p.relative_to(root).as_posix() for p in (root / "files").rglob("*") if p.is_file()}
    assert on_disk == {r[0] for r in rows}, "orphan files or rows without files"
    for rel, digest, size in rows:
        data = (root / rel).read_bytes()
        assert len(data) == size
        assert hashlib.sha256(data).hexdigest() == digest
    assert not list((root / "incoming").iterdir()), "debris left in incoming/"
    return len(rows)
