"""The sync outbox: a durable queue in the library database, owned by the library.

The sync layer (sync/runner.py) moves objects through these functions; no
other code touches the outbox tables.

One ``outbox`` row per time a study is queued (a signed read, a manual
``sync enqueue``, or automatic queueing), and one ``outbox_items`` row per
object that leaves with it: every image, the AI's CAD SR, the radiologist's
assessment SR.  Each object moves through

    queued -> deidentified -> uploading -> confirmed
                  |                |
                  +-> quarantined  +-> failed (the server refused it for good)

and every step is one committed transaction, so a process killed at any
moment restarts from the last step it finished: an object caught in
``uploading`` goes back to ``deidentified`` and is sent again, which an
idempotent server (see the README) stores once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from engine.errors import MammoDeskError
from engine.library.ai_results import latest_result_id
from engine.library.catalog import study_exists, study_files
from engine.library.store import Library, now_iso


class ItemState(StrEnum):
    """Where one object stands (outbox_items.state)."""

    QUEUED = "queued"
    DEIDENTIFIED = "deidentified"
    UPLOADING = "uploading"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    QUARANTINED = "quarantined"


class StudyState(StrEnum):
    """Where a queued study stands (outbox.state), which the worklist shows."""

    QUEUED = "queued"
    SENDING = "sending"
    CONFIRMED = "confirmed"
    FAILED = "failed"


QUEUED, DEIDENTIFIED, UPLOADING = ItemState.QUEUED, ItemState.DEIDENTIFIED, ItemState.UPLOADING
CONFIRMED, FAILED, QUARANTINED = ItemState.CONFIRMED, ItemState.FAILED, ItemState.QUARANTINED
PENDING = (QUEUED, DEIDENTIFIED, UPLOADING)
FINAL = (CONFIRMED, FAILED, QUARANTINED)
STATES = tuple(ItemState)

IMAGE, CAD_SR, ASSESSMENT_SR = "image", "cad_sr", "assessment_sr"


@dataclass(frozen=True)
class Item:
    id: int
    outbox_id: int
    study_uid: str
    kind: str
    source: str      # image: the local SOP Instance UID; reports: "ai:<id>" / "read:<id>"
    state: ItemState
    size: int        # bytes: of the staged file once de-identified, else of the original
    staged: str | None
    out_study_uid: str | None
    out_sop_uid: str | None
    attempts: int
    last_error: str | None


_ITEM_COLUMNS = ("id, outbox_id, study_uid, kind, source, state, size, staged, out_study_uid, "
                 "out_sop_uid, attempts, last_error")


def _item(row: tuple[Any, ...]) -> Item:
    (id_, outbox_id, study_uid, kind, source, state, size, staged, out_study_uid, out_sop_uid,
     attempts, last_error) = row
    return Item(id_, outbox_id, study_uid, kind, source, ItemState(state), size, staged,
                out_study_uid, out_sop_uid, attempts, last_error)


def _objects(library: Library, study_uid: str) -> list[tuple[str, str, int]]:
    """(kind, source, size) of everything that leaves with a study."""
    files = sorted(study_files(library, study_uid), key=lambda f: f.path)
    out = [(IMAGE, f.sop_uid, f.size_bytes) for f in files]
    result_id = latest_result_id(library, study_uid)
    if result_id is not None:
        out.append((CAD_SR, f"ai:{result_id}", 0))
    signed = library.conn.execute(
        "SELECT id FROM reads WHERE study_uid = ? AND signed_at IS NOT NULL "
        "AND addendum_of IS NULL ORDER BY id DESC LIMIT 1", (study_uid,)).fetchone()
    if signed:
        out.append((ASSESSMENT_SR, f"read:{signed[0]}", 0))
    return out


def enqueue(library: Library, study_uids: Iterable[str], reason: str) -> int:
    """Queue studies; returns how many objects were added.

    A study already waiting in the outbox gets only what is new (a newer AI
    result, a newly signed read); a study whose earlier sync finished is
    queued again only if something new is there to send.
    """
    added = 0
    for uid in study_uids:
        with library.transaction() as conn:
            added += enqueue_in(conn, library, uid, reason)
    return added


def enqueue_in(conn: sqlite3.Connection, library: Library, uid: str, reason: str) -> int:
    """`enqueue` of one study inside the caller's transaction (signing uses it)."""
    if not study_exists(library, uid):
        raise MammoDeskError(f"no study {uid} in the library")
    sent = {src for (src,) in conn.execute(
        "SELECT source FROM outbox_items WHERE study_uid = ? AND state != ?", (uid, FAILED))}
    new = [o for o in _objects(library, uid) if o[1] not in sent]
    if not new:
        return 0
    now = now_iso()
    row = conn.execute(
        "SELECT id FROM outbox WHERE study_uid = ? AND state IN (?, ?) ORDER BY id DESC",
        (uid, StudyState.QUEUED, StudyState.SENDING)).fetchone()
    if row is None:
        cur = conn.execute(
            "INSERT INTO outbox (study_uid, state, enqueued_at, updated_at, reason) "
            "VALUES (?, ?, ?, ?, ?)", (uid, StudyState.QUEUED, now, now, reason))
        box = int(cur.lastrowid or 0)
    else:
        box = int(row[0])
    conn.executemany(
        "INSERT OR IGNORE INTO outbox_items (outbox_id, study_uid, kind, source, state, "
        "size, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(box, uid, kind, src, QUEUED, size, now) for kind, src, size in new])
    return len(new)


def enqueue_unsent(library: Library) -> int:
    """Automatic queueing: every study never queued before."""
    uids = [u for (u,) in library.conn.execute(
        "SELECT study_uid FROM studies WHERE study_uid NOT IN (SELECT study_uid FROM outbox) "
        "ORDER BY first_imported_at")]
    return enqueue(library, uids, "auto") if uids else 0


def recover(library: Library) -> int:
    """After a crash: objects caught mid-upload are sent again."""
    with library.transaction() as conn:
        cur = conn.execute("UPDATE outbox_items SET state = ?, updated_at = ? WHERE state = ?",
                           (DEIDENTIFIED, now_iso(), UPLOADING))
        return cur.rowcount


def open_studies(library: Library) -> list[tuple[int, str]]:
    """(outbox id, study UID) with objects still to do, oldest first."""
    return [(int(i), u) for i, u in library.conn.execute(
        "SELECT DISTINCT outbox_id, study_uid FROM outbox_items WHERE state IN (?, ?, ?) "
        "ORDER BY outbox_id", PENDING)]


def items(library: Library, outbox_id: int, states: Iterable[str] | None = None) -> list[Item]:
    sql = f"SELECT {_ITEM_COLUMNS} FROM outbox_items WHERE outbox_id = ?"
    args: list[object] = [outbox_id]
    if states is not None:
        states = list(states)
        sql += f" AND state IN ({', '.join('?' * len(states))})"
        args += states
    return [_item(r) for r in library.conn.execute(sql + " ORDER BY id", args)]


def set_state(library: Library, item_ids: Iterable[int], state: str, *,
              error: str | None = None, count_attempt: bool = False) -> None:
    ids = list(item_ids)
    if not ids:
        return
    with library.transaction() as conn:
        conn.executemany(
            "UPDATE outbox_items SET state = ?, last_error = ?, updated_at = ?, "
            "attempts = attempts + ? WHERE id = ?",
            [(state, error, now_iso(), int(count_attempt), i) for i in ids])


def mark_staged(library: Library, item_id: int, *, staged: str, size: int,
                out_study_uid: str, out_sop_uid: str) -> None:
    with library.transaction() as conn:
        conn.execute(
            "UPDATE outbox_items SET state = ?, staged = ?, size = ?, out_study_uid = ?, "
            "out_sop_uid = ?, last_error = NULL, updated_at = ? WHERE id = ?",
            (DEIDENTIFIED, staged, size, out_study_uid, out_sop_uid, now_iso(), item_id))


def settle_study(library: Library, outbox_id: int) -> StudyState:
    """Recompute a study's outbox state from its objects; returns it."""
    with library.transaction() as conn:
        states = [s for (s,) in conn.execute(
            "SELECT state FROM outbox_items WHERE outbox_id = ?", (outbox_id,))]
        if any(s in PENDING for s in states):
            state = StudyState.SENDING if any(s != QUEUED for s in states) else StudyState.QUEUED
        elif states and all(s == CONFIRMED for s in states):
            state = StudyState.CONFIRMED
        else:
            state = StudyState.FAILED
        conn.execute("UPDATE outbox SET state = ?, updated_at = ? WHERE id = ?",
                     (state, now_iso(), outbox_id))
    return state


def retry_failed(library: Library) -> int:
    """Give objects the server refused (or that failed to prepare) another go."""
    with library.transaction() as conn:
        cur = conn.execute(
            "UPDATE outbox_items SET state = CASE WHEN staged IS NULL THEN ? ELSE ? END, "
            "attempts = 0, updated_at = ? WHERE state = ?",
            (QUEUED, DEIDENTIFIED, now_iso(), FAILED))
        conn.execute("UPDATE outbox SET state = ? WHERE id IN (SELECT outbox_id FROM "
                     "outbox_items WHERE state IN (?, ?))",
                     (StudyState.SENDING, QUEUED, DEIDENTIFIED))
        return cur.rowcount


def counts(library: Library) -> dict[str, dict[str, int]]:
    """Objects and bytes per state, over the whole outbox."""
    out: dict[str, dict[str, int]] = {s: {"objects": 0, "bytes": 0} for s in STATES}
    for state, n, size in library.conn.execute(
            "SELECT state, COUNT(*), COALESCE(SUM(size), 0) FROM outbox_items GROUP BY state"):
        out.setdefault(state, {"objects": 0, "bytes": 0})
        out[state] = {"objects": int(n), "bytes": int(size)}
    return out


def problems(library: Library, limit: int = 20) -> list[tuple[str, str, str]]:
    """(kind, state, reason) of failed and quarantined objects, newest first."""
    return [(k, s, e or "") for k, s, e in library.conn.execute(
        "SELECT kind, state, last_error FROM outbox_items WHERE state IN (?, ?) "
        "ORDER BY id DESC LIMIT ?", (FAILED, QUARANTINED, limit))]


def study_states(library: Library) -> dict[str, int]:
    """How many studies stand in each state, counting each study's latest queueing."""
    return {str(state): int(n) for state, n in library.conn.execute(
        "SELECT state, COUNT(*) FROM outbox WHERE id IN (SELECT MAX(id) FROM outbox "
        "GROUP BY study_uid) GROUP BY state")}


def latest_study_states(library: Library) -> dict[str, StudyState]:
    """Study UID -> the state of its latest queueing, for studies ever queued."""
    return {uid: StudyState(state) for uid, state in library.conn.execute(
        "SELECT study_uid, state FROM outbox ORDER BY id")}
