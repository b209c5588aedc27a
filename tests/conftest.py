"""Shared fixtures: a small synthetic cohort, a fresh library, the CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cloud import LocalCloud, missing_software

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory: pytest.TempPathFactory):
    """Three synthetic women at the small size, one with a prior: 16 files."""
    from engine.phantom import generate_cohort

    out = tmp_path_factory.mktemp("cohort")
    return generate_cohort(out, 3, seed=5, cancer_rate=0.5, size="small", prior_rate=0.34)


@pytest.fixture
def library(tmp_path: Path):
    from engine.library import Library

    with Library(tmp_path / "library") as lib:
        yield lib


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


# -- the reference cloud (nginx TLS + Orthanc DICOMweb on loopback) -------------


@pytest.fixture(scope="session")
def local_cloud(tmp_path_factory: pytest.TempPathFactory):
    """One reference cloud (nginx TLS + Orthanc DICOMweb) for the whole session."""
    reason = missing_software()
    if reason:
        pytest.fail(reason, pytrace=False)  # never a skip: CI must install them
    directory = tmp_path_factory.mktemp("cloud")
    try:
        cloud = LocalCloud.start(directory)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield cloud
    finally:
        cloud.stop()


@pytest.fixture
def cloud(local_cloud: LocalCloud) -> LocalCloud:
    """The session cloud, running, with nothing stored."""
    if not (local_cloud.orthanc_answers() and local_cloud.nginx_listening()):
        local_cloud.ensure_running()
    local_cloud.delete_all()
    return local_cloud
