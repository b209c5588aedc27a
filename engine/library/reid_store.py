"""Rows of the re-identification map: opaque sealed blobs keyed by pseudonym.

The library stores them; sealing and opening (and the key) belong to the
de-identification layer, so nothing here can read what a row holds.
"""

from __future__ import annotations

import sqlite3

from engine.errors import LibraryError
from engine.library.store import Library, now_iso


def put_sealed(library: Library, rows: list[tuple[str, str, bytes]]) -> None:
    """Insert (pseudonym, kind, sealed) rows in one transaction; known pseudonyms are kept."""
    created = now_iso()
    try:
        with library.transaction() as conn:
            conn.executemany(
            "INSERT OR IGNORE INTO reid_map (pseudonym, kind, sealed, created_at) "
                "VALUES (?, ?, ?, ?)", [(p, k, s, created) for p, k, s in rows])
    except sqlite3.Error as exc:
        raise LibraryError(f"cannot record the re-identification map: {exc}") from exc


def get_sealed(library: Library, pseudonym: str) -> tuple[str, bytes] | None:
    row = library.conn.execute("SELECT kind, sealed FROM reid_map WHERE pseudonym = ?",
                       (pseudonym,)).fetchone()
    return None if row is None else (str(row[0]), bytes(row[1]))

