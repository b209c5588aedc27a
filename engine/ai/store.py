"""AI results kept in the case library, as ExamResult objects.

The library stores each result as a JSON document (engine/library/ai_results.py);
this module converts in both directions, so there is one way to read a result.
"""

from __future__ import annotations

from engine.ai.results import ExamResult
from engine.library import ai_results
from engine.library.store import Library


def save_result(library: Library, result: ExamResult) -> int:
    """Store a result (with its heatmaps); returns the row id."""
    return ai_results.add_result(
        library, result.study_instance_uid, (result.model_name, result.model_version),
        result.created_at, result.to_dict(heatmaps=True))


def latest_result(
    library: Library, study_uid: str, model: tuple[str, str] | None = None
) -> ExamResult | None:
    """The newest stored result of a study, optionally of one model (name, version)."""
    stored = ai_results.latest_result(library, study_uid, model)
    return ExamResult.from_dict(stored.document) if stored else None


def result_by_id(library: Library, result_id: int) -> ExamResult | None:
    stored = ai_results.result_by_id(library, result_id)
    return ExamResult.from_dict(stored.document) if stored else None
