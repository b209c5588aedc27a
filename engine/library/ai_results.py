"""AI results in the case library (table ai_results, one row per analysis).

The library keeps each result as the JSON document the AI layer gives it;
engine/ai/store.py turns those documents into ExamResult objects.
"""

from __future__ import annotations

import json
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


_COLUMNS = "id, study_uid, model_name, model_version, created_at, result_json"


def _stored(row: tuple) -> StoredResult:
    rid, uid, name, version, created, text = row
    return StoredResult(int(rid), uid, name, version, created, json.loads(text))


def add_result(library: Library, study_uid: str, model: tuple[str, str], created_at: str,
               document: dict[str, Any]) -> int:
    """Store one analysis of a study by a model (name, version); returns its id."""
    with library.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO ai_results (study_uid, model_name, model_version, created_at, "
            "result_json) VALUES (?, ?, ?, ?, ?)",
            (study_uid, model[0], model[1], created_at,
             json.dumps(document, separators=(",", ":"))))
        return int(cur.lastrowid or 0)


def latest_result(library: Library, study_uid: str, model: tuple[str, str] | None = None
                  ) -> StoredResult | None:
    """The newest stored result of a study, optionally of one model (name, version)."""
    sql = f"SELECT {_COLUMNS} FROM ai_results WHERE study_uid = ?"
    args: tuple[str, ...] = (study_uid,)
    if model:
        sql += " AND model_name = ? AND model_version = ?"
        args += model
    row = library.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
    return _stored(row) if row else None


def result_by_id(library: Library, result_id: int) -> StoredResult | None:
    row = library.conn.execute(f"SELECT {_COLUMNS} FROM ai_results WHERE id = ?",
                               (result_id,)).fetchone()
    return _stored(row) if row else None


def latest_result_id(library: Library, study_uid: str) -> int | None:
    row = library.conn.execute(
        "SELECT id FROM ai_results WHERE study_uid = ? ORDER BY id DESC LIMIT 1",
        (study_uid,)).fetchone()
    return int(row[0]) if row else None


def latest_exam_scores(library: Library) -> dict[str, float | None]:
    """Study UID -> the exam score of its newest result (None: no score), for studies
    with a result."""
    scores: dict[str, float | None] = {}
    for uid, score in library.conn.execute(
            "SELECT study_uid, json_extract(result_json, '$.exam_score') FROM ai_results "
            "ORDER BY id"):
        scores[uid] = score  # later rows win
    return scores
