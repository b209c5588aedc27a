"""AI results kept in the case library, as ExamResult objects.

The library stores each result as a JSON document (engine/library/ai_results.py);
this module converts in both directions, so there is one way to read a result.
A study keeps one result per model (name, version); a new analysis replaces
it unless it judged less of the exam (``ExamResult.completeness``).
"""

from __future__ import annotations

from typing import Any

from engine.ai.results import ExamResult, completeness_text
from engine.library import ai_results
from engine.library.ai_results import PutOutcome
from engine.library.store import Library


def _document_completeness(document: dict[str, Any]) -> tuple[int, int]:
    try:
        return ExamResult.from_dict(document).completeness()
    except (KeyError, TypeError, ValueError):  # a document this version cannot read
        return (0, 0)


def save_result(library: Library, result: ExamResult) -> PutOutcome:
    """Keep a result (with its heatmaps) as the study's result of its model.

    A result that judged fewer breasts, then fewer views, than the stored one
    of the same model is not stored; the outcome says so and why.
    """
    new = result.completeness()

    def keep_stored(stored: dict[str, Any]) -> str | None:
        old = _document_completeness(stored)
        if old <= new:
            return None
        return (f"the library keeps its more complete result of {result.model_name} "
                f"{result.model_version} ({completeness_text(old)}; this analysis: "
                f"{completeness_text(new)})")

    return ai_results.put_result(
        library, result.study_instance_uid, (result.model_name, result.model_version),
        result.created_at, result.to_dict(heatmaps=True), keep_stored)


def latest_result(
    library: Library, study_uid: str, model: tuple[str, str] | None = None
) -> ExamResult | None:
    """The newest stored result of a study, optionally of one model (name, version)."""
    stored = ai_results.latest_result(library, study_uid, model)
    return ExamResult.from_dict(stored.document) if stored else None


def result_by_id(library: Library, result_id: int) -> ExamResult | None:
    stored = ai_results.result_by_id(library, result_id)
    return ExamResult.from_dict(stored.document) if stored else None
