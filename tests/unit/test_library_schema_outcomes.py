"""Schema 6: a library written before outcomes existed gains the outcomes
table when it is opened, and keeps everything it held."""

from __future__ import annotations

import sqlite3

import pytest

from engine.library import Library
from engine.library.outcomes import add_outcomes, list_outcomes, make_outcome
from engine.library.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version

STUDY = "1.2.826.0.1.3680043.10.1234.601"


def _v5_library(root) -> None:
    root.mkdir()
    conn = sqlite3.connect(root / "library.db", isolation_level=None)
    assert migrate(conn, MIGRATIONS[:5]) == 5
    conn.execute("INSERT INTO studies (study_uid, patient_id, study_date, first_imported_at) "
                 "VALUES (?, 'SYN-1', '20240110', 'x')", (STUDY,))
    conn.execute("INSERT INTO reads (study_uid, reader, created_at, signed_at, read_json) "
                 "VALUES (?, 'Dr A', 'x', 'y', '{}')", (STUDY,))
    conn.close()


def test_opening_a_v5_library_adds_outcomes_and_keeps_its_rows(tmp_path):
    root = tmp_path / "lib"
    _v5_library(root)
    with Library(root) as lib:
        assert schema_version(lib.conn) == SCHEMA_VERSION >= 6
        assert "outcomes" in lib.db.table_names()
        assert lib.conn.execute("SELECT study_uid, reader FROM reads").fetchall() == [
            (STUDY, "Dr A")]
        add_outcomes(lib, [make_outcome(STUDY, "L", "high-risk", "2024-02-01")])
    with Library(root) as lib:  # opened again: nothing migrates twice
        assert [o.result for o in list_outcomes(lib)] == ["high-risk"]


def test_the_outcomes_table_refuses_what_the_vocabulary_does_not_hold(tmp_path):
    conn = sqlite3.connect(tmp_path / "lib.db", isolation_level=None)
    migrate(conn)
    conn.execute("INSERT INTO studies (study_uid, first_imported_at) VALUES (?, 'x')", (STUDY,))
    good = (STUDY, "R", "malignant", "2024-01-20", "biopsy", "negative")
    sql = ("INSERT INTO outcomes (study_uid, side, result, outcome_date, procedure, nodes, "
           "created_at) VALUES (?, ?, ?, ?, ?, ?, 'x')")
    conn.execute(sql, good)
    for bad in ((STUDY, "B", *good[2:]), (*good[:2], "cancer", *good[3:]),
                (*good[:4], "lumpectomy", good[5]), (*good[:5], "n1")):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql, bad)
    assert conn.execute("SELECT nodes, histology, invasive_size_mm FROM outcomes").fetchall() == [
        ("negative", "", None)]


def test_schema_7_adds_read_roles_and_priority_to_old_libraries(tmp_path):
    root = tmp_path / "lib"
    _v5_library(root)
    with Library(root) as lib:
        assert lib.conn.execute("SELECT role FROM reads").fetchall() == [("single",)]
        assert lib.conn.execute("SELECT priority FROM studies").fetchall() == [("",)]
        with pytest.raises(sqlite3.IntegrityError):
            lib.conn.execute("UPDATE reads SET role = 'third'")
