"""AI results in the case library (table ai_results, one row per analysis)."""

from __future__ import annotations

import json

from engine.ai.results import ExamResult
from engine.library.store import Library


def save_result(library: Library, result: ExamResult) -> int:
    """Store a result (with its heatmaps); returns the row id."""
    with library.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO ai_results (study_uid, model_name, model_version, created_at, "
            "result_json) VALUES (?, ?, ?, ?, ?)",
            (
                result.study_instance_uid,
                result.model_name,
                result.model_version,
                result.created_at,
                json.dumps(result.to_dict(heatmaps=True), separators=(",", ":")),
            ),
        )
        return int(cur.lastrowid or 0)


def latest_result(
    library: Library, study_uid: str, model: tuple[str, str] | None = None
) -> ExamResult | None:
    """The newest stored result of a study, optionally of one model (name, version)."""
    sql = "SELECT result_json FROM ai_results WHERE study_uid = ?"
    args: tuple = (study_uid,)
    if model:
        sql += " AND model_name = ? AND model_version = ?"
        args += model
    row = library.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()
    return ExamResult.from_dict(json.loads(row[0])) if row else None


def studies_without_result(library: Library, model: tuple[str, str]) -> list[str]:
    rows = library.conn.execute(
        "SELECT study_uid FROM studies WHERE study_uid NOT IN (SELECT study_uid FROM "
        "ai_results WHERE model_name = ? AND model_version = ?)",
        model,
    ).fetchall()
    return [r[0] for r in rows]
