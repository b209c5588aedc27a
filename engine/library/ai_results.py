"""AI results in the case library (table ai_results, one row per study and
model (name, version)).

The library keeps each result as the JSON document the AI layer gives it;
engine/ai/store.py turns those documents into ExamResult objects.  Analysing
a study again with the same model updates its row in place: the row id is
what the sync outbox names ("ai:<id>") and reads back when it builds the CAD
SR, so it never changes.  "Newest" means the latest analysis (created_at),
then the highest id.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.library.store import Library


@dataclass(frozen=True)
class StoredResult:
    id: int
    study_uid: str
    model_name: str
    model_version: str
    created_at: str
    document: dict[str, Any]


@dataclass(frozen=True)
class PutOutcome:
    """What ``put_result`` did: the row that holds the study's result of the
    model, and, when the stored result was kept instead, why."""

    result_id: int
    kept_reason: str | None = None

    @property
    def stored(self) -> bool:
        return self.kept_reason is None


@dataclass(frozen=True)
class ResultSummary:
    """The headline of a stored result, read without loading the document."""

    exam_score: float | None
    category: int | None
    reason: str | None


_COLUMNS = "id, study_uid, model_name, model_version, created_at, result_json"
_NEWEST_FIRST = "ORDER BY julianday(created_at) DESC, id DESC"


def _stored(row: tuple) -> StoredResult:
    rid, uid, name, version, created, text = row
    return StoredResult(int(rid), uid, name, version, created, json.loads(text))


def put_result(library: Library, study_uid: str, model: tuple[str, str], created_at: str,
               document: dict[str, Any],
               keep_stored: Callable[[dict[str, Any]], str | None] | None = None
               ) -> PutOutcome:
    """Store a study's result of a model (name, version).

    A study without a result of that model gets a new row; otherwise its row
    is updated in place, unless ``keep_stored(stored document)`` gives a
    reason to keep what is there.  One transaction: two writers cannot both
    see "no row yet".
    """
    text = json.dumps(document, separators=(",", ":"))
    with library.transaction() as conn:
        row = conn.execute(
            "SELECT id, result_json FROM ai_results WHERE study_uid = ? AND model_name = ? "
            "AND model_version = ?", (study_uid, model[0], model[1])).fetchone()
        if row is None:
            cur = conn.execute(
                "INSERT INTO ai_results (study_uid, model_name, model_version, created_at, "
                "result_json) VALUES (?, ?, ?, ?, ?)",
                (study_uid, model[0], model[1], created_at, text))
            return PutOutcome(int(cur.lastrowid or 0))
        rid = int(row[0])
        why = keep_stored(json.loads(row[1])) if keep_stored else None
        if why:
            return PutOutcome(rid, why)
        conn.execute("UPDATE ai_results SET created_at = ?, result_json = ? WHERE id = ?",
                     (created_at, text, rid))
        return PutOutcome(rid)


def add_result(library: Library, study_uid: str, model: tuple[str, str], created_at: str,
               document: dict[str, Any]) -> int:
    """Store (or replace) a study's result of a model (name, version); returns its id."""
    return put_result(library, study_uid, model, created_at, document).result_id


def latest_result(library: Library, study_uid: str, model: tuple[str, str] | None = None
                  ) -> StoredResult | None:
    """The newest stored result of a study, optionally of one model (name, version)."""
    sql = f"SELECT {_COLUMNS} FROM ai_results WHERE study_uid = ?"
    args: tuple[str, ...] = (study_uid,)
    if model:
        sql += " AND model_name = ? AND model_version = ?"
        args += model
    row = library.conn.execute(f"{sql} {_NEWEST_FIRST} LIMIT 1", args).fetchone()
    return _stored(row) if row else None


def result_by_id(library: Library, result_id: int) -> StoredResult | None:
    row = library.conn.execute(f"SELECT {_COLUMNS} FROM ai_results WHERE id = ?",
                               (result_id,)).fetchone()
    return _stored(row) if row else None


def latest_result_id(library: Library, study_uid: str) -> int | None:
    row = library.conn.execute(
        f"SELECT id FROM ai_results WHERE study_uid = ? {_NEWEST_FIRST} LIMIT 1",
        (study_uid,)).fetchone()
    return int(row[0]) if row else None


def latest_exam_scores(library: Library) -> dict[str, float | None]:
    """Study UID -> the exam score of its newest result (None: no score), for studies
    with a result."""
    scores: dict[str, float | None] = {}
    for uid, score in library.conn.execute(
            "SELECT study_uid, json_extract(result_json, '$.exam_score') FROM ai_results "
            "ORDER BY julianday(created_at), id"):
        scores[uid] = score  # later rows win
    return scores


def study_uids_with_result(library: Library, model: tuple[str, str]) -> set[str]:
    """The studies that have a result of a model (name, version)."""
    return {uid for (uid,) in library.conn.execute(
        "SELECT study_uid FROM ai_results WHERE model_name = ? AND model_version = ?", model)}


def result_summaries(library: Library, model: tuple[str, str]) -> dict[str, ResultSummary]:
    """Study UID -> the headline of its result of a model (name, version)."""
    return {uid: ResultSummary(score, category, reason)
            for uid, score, category, reason in library.conn.execute(
                "SELECT study_uid, json_extract(result_json, '$.exam_score'), "
                "json_extract(result_json, '$.category'), "
                "json_extract(result_json, '$.reason') FROM ai_results "
                "WHERE model_name = ? AND model_version = ?", model)}
