"""The library's SQLite schema and its migrations.

The schema version lives in ``PRAGMA user_version``.  Each migration is a
function that takes the database from version N-1 to N inside one
transaction, so a crash mid-migration leaves the previous version intact.
A library written by a newer MammoDesk is refused rather than guessed at.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable

from engine.errors import LibraryError


def _v1(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE studies (
            study_uid TEXT PRIMARY KEY,
            patient_id TEXT NOT NULL DEFAULT '',
            patient_name TEXT NOT NULL DEFAULT '',
            patient_birth_date TEXT NOT NULL DEFAULT '',
            patient_sex TEXT NOT NULL DEFAULT '',
            study_date TEXT NOT NULL DEFAULT '',
            study_time TEXT NOT NULL DEFAULT '',
            accession_number TEXT NOT NULL DEFAULT '',
            study_description TEXT NOT NULL DEFAULT '',
            first_imported_at TEXT NOT NULL
        );
        CREATE INDEX studies_patient ON studies (patient_id, study_date);

        CREATE TABLE series (
            series_uid TEXT PRIMARY KEY,
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            modality TEXT NOT NULL DEFAULT '',
            series_number INTEGER,
            series_description TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX series_study ON series (study_uid);

        CREATE TABLE instances (
            sop_uid TEXT PRIMARY KEY,
            series_uid TEXT NOT NULL REFERENCES series (series_uid),
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            sop_class_uid TEXT NOT NULL,
            modality TEXT NOT NULL DEFAULT '',
            transfer_syntax_uid TEXT NOT NULL DEFAULT '',
            instance_number INTEGER,
            rows INTEGER,
            columns INTEGER,
            bits_stored INTEGER,
            photometric TEXT NOT NULL DEFAULT '',
            frames INTEGER NOT NULL DEFAULT 1,
            has_pixel_data INTEGER NOT NULL,
            presentation_intent TEXT,
            implant_present INTEGER,
            laterality TEXT,
            view TEXT,
            view_label TEXT NOT NULL,
            view_modifiers TEXT NOT NULL DEFAULT '[]',
            laterality_source TEXT,
            view_source TEXT,
            view_conflicts TEXT NOT NULL DEFAULT '[]',
            rel_path TEXT NOT NULL UNIQUE,
            file_size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            imported_at TEXT NOT NULL
        );
        CREATE INDEX instances_study ON instances (study_uid);
        CREATE INDEX instances_series ON instances (series_uid);

        -- Files being moved into the library.  A row here whose instance row
        -- never committed marks an orphan that recovery deletes.
        CREATE TABLE pending_files (
            rel_path TEXT PRIMARY KEY,
            sop_uid TEXT NOT NULL,
            created_at TEXT NOT NULL
        );

        -- Rooms for later features.  Their owners extend them by migration.
        CREATE TABLE ai_results (
            id INTEGER PRIMARY KEY,
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            model_name TEXT NOT NULL,
            model_version TEXT NOT NULL,
            created_at TEXT NOT NULL,
            result_json TEXT NOT NULL
        );
        CREATE INDEX ai_results_study ON ai_results (study_uid);

        CREATE TABLE reads (
            id INTEGER PRIMARY KEY,
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            reader TEXT NOT NULL,
            created_at TEXT NOT NULL,
            signed_at TEXT,
            addendum_of INTEGER REFERENCES reads (id),
            read_json TEXT NOT NULL
        );
        CREATE INDEX reads_study ON reads (study_uid);

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            enqueued_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX outbox_state ON outbox (state);
        """,
    )


def _v2(conn: sqlite3.Connection) -> None:
    # The re-identification map: pseudonym -> original identity, sealed by
    # the sync layer with a key this database never sees.
    run_script(
        conn,
        """
        CREATE TABLE reid_map (
            pseudonym TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            sealed BLOB NOT NULL,
            created_at TEXT NOT NULL
        );
        """,
    )


def _v3(conn: sqlite3.Connection) -> None:
    # The sync outbox, one row per object: the study's images, its CAD SR and
    # the assessment SR, each with its own state.  The sync layer fills it;
    # only pseudonymous UIDs and staged file names (pseudonyms) are stored.
    run_script(
        conn,
        """
        ALTER TABLE outbox ADD COLUMN reason TEXT NOT NULL DEFAULT '';
        CREATE TABLE outbox_items (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER NOT NULL REFERENCES outbox (id),
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            state TEXT NOT NULL,
            size INTEGER NOT NULL DEFAULT 0,
            staged TEXT,
            out_study_uid TEXT,
            out_sop_uid TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (outbox_id, source)
        );
        CREATE INDEX outbox_items_state ON outbox_items (state, outbox_id);
        CREATE INDEX outbox_items_out ON outbox_items (out_sop_uid);
        """,
    )


def _v4(conn: sqlite3.Connection) -> None:
    # Hanging facts, so a study opens from the index without re-reading its
    # headers: PatientOrientation and the order of repeated views, as JSON.
    # NULL on rows imported before this version (their headers are read).
    run_script(
        conn,
        """
        ALTER TABLE instances ADD COLUMN patient_orientation TEXT;
        ALTER TABLE instances ADD COLUMN acquisition_order TEXT;
        """,
    )


def _result_completeness(text: str) -> tuple[int, int]:
    """(breasts with a probability, views with a score) of a stored result
    document, as MammoDesk judged completeness when v5 was written."""
    try:
        doc = json.loads(text)
    except ValueError:
        return (0, 0)
    if not isinstance(doc, dict):
        return (0, 0)

    def scored(key: str, field: str) -> int:
        items = doc.get(key)
        return sum(isinstance(i, dict) and i.get(field) is not None
                   for i in items) if isinstance(items, list) else 0

    return (scored("breasts", "probability"), scored("views", "score"))


def _v5(conn: sqlite3.Connection) -> None:
    # One AI result per study and model (name, version): analysing again
    # replaces the row in place.  Before, every analysis appended a row, so
    # ids grew with time; of each set of duplicates the most complete result
    # stays (breasts with a probability, then views with a score), then the
    # newest.  Outbox items that named a dropped row ("ai:<id>") name the kept
    # one; an item whose queueing already holds the kept one is dropped.
    rows = conn.execute(
        "SELECT id, study_uid, model_name, model_version, result_json FROM ai_results "
        "WHERE (study_uid, model_name, model_version) IN (SELECT study_uid, model_name, "
        "model_version FROM ai_results GROUP BY study_uid, model_name, model_version "
        "HAVING COUNT(*) > 1)")
    groups: dict[tuple[str, str, str], list[tuple[tuple[int, int], int]]] = {}
    for rid, uid, name, version, text in rows:
        groups.setdefault((uid, name, version), []).append((_result_completeness(text), rid))
    for candidates in groups.values():
        kept = max(candidates)[1]
        for _, dropped in candidates:
            if dropped == kept:
                continue
            conn.execute("DELETE FROM ai_results WHERE id = ?", (dropped,))
            conn.execute("UPDATE OR IGNORE outbox_items SET source = ? WHERE source = ?",
                         (f"ai:{kept}", f"ai:{dropped}"))
            conn.execute("DELETE FROM outbox_items WHERE source = ?", (f"ai:{dropped}",))
    conn.execute("CREATE UNIQUE INDEX ai_results_model ON ai_results "
                 "(study_uid, model_name, model_version)")


def _v6(conn: sqlite3.Connection) -> None:
    # Outcomes: what pathology found after a study, per breast (engine/library/
    # outcomes.py).  A breast may have several (a biopsy, then surgery); the
    # screening audit (engine/reading/audit.py) reads them.
    run_script(
        conn,
        """
        CREATE TABLE outcomes (
            id INTEGER PRIMARY KEY,
            study_uid TEXT NOT NULL REFERENCES studies (study_uid),
            side TEXT NOT NULL CHECK (side IN ('R', 'L')),
            result TEXT NOT NULL CHECK (result IN ('malignant', 'benign', 'high-risk')),
            outcome_date TEXT NOT NULL,
            procedure TEXT CHECK (procedure IS NULL OR procedure IN ('biopsy', 'surgery')),
            histology TEXT NOT NULL DEFAULT '',
            invasive_size_mm REAL,
            nodes TEXT NOT NULL DEFAULT 'unknown'
                CHECK (nodes IN ('negative', 'positive', 'unknown')),
            created_at TEXT NOT NULL
        );
        CREATE INDEX outcomes_study ON outcomes (study_uid, side);
        """,
    )


def _v7(conn: sqlite3.Connection) -> None:
    # Double reading: a read's role in the study's reading ('single' where the
    # site reads once; 'first', 'second' and 'arbitration' where it reads
    # twice).  Worklist priority: '' (routine) or 'urgent', set by the reader
    # or a RIS through the command line.
    run_script(
        conn,
        """
        ALTER TABLE reads ADD COLUMN role TEXT NOT NULL DEFAULT 'single'
            CHECK (role IN ('single', 'first', 'second', 'arbitration'));
        ALTER TABLE studies ADD COLUMN priority TEXT NOT NULL DEFAULT ''
            CHECK (priority IN ('', 'urgent'));
        """,
    )


# Index i holds the migration to version i + 1.  Append, never edit.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection,
            migrations: list[Callable[[sqlite3.Connection], None]] | None = None) -> int:
    """Bring the database up to the newest version; return the version reached."""
    migrations = MIGRATIONS if migrations is None else migrations
    current = schema_version(conn)
    if current > len(migrations):
        raise LibraryError(
            f"the library was written by a newer MammoDesk (schema {current}, this version "
            f"knows {len(migrations)}); update MammoDesk to open it"
        )
    for version in range(current + 1, len(migrations) + 1):
        # executescript commits any open transaction, so BEGIN explicitly and
        # run the DDL statement by statement inside it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= version:  # another process got there first
                conn.execute("ROLLBACK")
                continue
            migrations[version - 1](conn)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return schema_version(conn)


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run several statements inside the caller's transaction.

    ``Connection.executescript`` would commit first, which breaks the
    one-transaction-per-migration rule.
    """
    for statement in _split_sql(script):
        conn.execute(statement)


def _split_sql(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines():
        stripped = line.split("--", 1)[0]
        buffer += stripped + "\n"
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
