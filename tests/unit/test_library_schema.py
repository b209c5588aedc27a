"""The library database: WAL, versioned schema, migrations."""

from __future__ import annotations

import sqlite3

import pytest

from engine.errors import LibraryError
from engine.library import SCHEMA_VERSION, Library
from engine.library.schema import MIGRATIONS, migrate, schema_version


def test_new_library_is_wal_and_current(tmp_path):
    with Library(tmp_path / "lib") as lib:
        assert lib.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert schema_version(lib.conn) == SCHEMA_VERSION
        tables = set(lib.db.table_names())
    assert {"studies", "series", "instances", "pending_files", "ai_results", "reads",
            "outbox"} <= tables


def test_migration_keeps_data_and_runs_once(tmp_path):
    path = tmp_path / "lib.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn)
    conn.execute("INSERT INTO studies (study_uid, first_imported_at) VALUES ('1.2.3', 'x')")

    def add_flag(c):
        c.execute("ALTER TABLE studies ADD COLUMN flag INTEGER NOT NULL DEFAULT 0")

    assert migrate(conn, [*MIGRATIONS, add_flag]) == SCHEMA_VERSION + 1
    assert migrate(conn, [*MIGRATIONS, add_flag]) == SCHEMA_VERSION + 1
    assert conn.execute("SELECT study_uid, flag FROM studies").fetchall() == [("1.2.3", 0)]


def test_failed_migration_rolls_back_completely(tmp_path):
    conn = sqlite3.connect(tmp_path / "lib.db", isolation_level=None)
    migrate(conn)

    def half_done(c):
        c.execute("CREATE TABLE scratch (x)")
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        migrate(conn, [*MIGRATIONS, half_done])
    assert schema_version(conn) == SCHEMA_VERSION
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "scratch" not in names


def test_library_from_newer_version_is_refused_untouched(tmp_path):
    root = tmp_path / "lib"
    Library(root).close()
    conn = sqlite3.connect(root / "library.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryError, match="newer MammoDesk"):
        Library(root)
    conn = sqlite3.connect(root / "library.db")
    assert schema_version(conn) == SCHEMA_VERSION + 5


def test_garbage_database_gives_one_line_error(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    (root / "library.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LibraryError) as info:
        Library(root)
    assert "\n" not in str(info.value)
