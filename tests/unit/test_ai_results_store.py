"""One AI result per study and model: re-running the model replaces it in
place (the outbox names its id), a partial analysis never replaces a
complete one, and schema v5 collapses the duplicates older versions left."""

from __future__ import annotations

import json
import sqlite3

import pytest

from engine.ai.results import BreastResult, ExamResult, Mark, ViewResult
from engine.ai.store import latest_result, result_by_id, save_result
from engine.library import Library
from engine.library.ai_results import latest_exam_scores, study_uids_with_result
from engine.library.schema import MIGRATIONS, SCHEMA_VERSION, migrate

STUDY = "1.2.3.4"
MODEL = ("mammodesk-phantom", "1.0.0")
VIEWS = ("RCC", "LCC", "RMLO", "LMLO")


def _result(score: float | None, views: tuple[str, ...] = VIEWS, *, version: str = "1.0.0",
            created_at: str = "2024-05-01T10:00:00+02:00") -> ExamResult:
    """A result where each breast with both views present is assessed."""
    sides = {v[0] for v in views if f"{v[0]}CC" in views and f"{v[0]}MLO" in views}
    return ExamResult(
        study_instance_uid=STUDY, model_name=MODEL[0], model_version=version,
        backend="onnxruntime", device="CPU", created_at=created_at,
        exam_score=score if sides else None, category=5 if sides else None, density="b",
        breasts=[BreastResult(s, 0.3 if s in sides else None, "b" if s in sides else None,
                              None if s in sides else "not assessed") for s in "RL"],
        views=[ViewResult(v, v[0], v[1:], f"{STUDY}.{i}", "1.2.840.10008.5.1.4.1.1.1.2",
                          f"{STUDY}.9", 64, 48, score=0.3 if v[0] in sides else None,
                          marks=[Mark(10.0, 12.0, (5.0, 6.0, 15.0, 18.0), 0.9)]
                          if v[0] in sides else [])
               for i, v in enumerate(views)],
        reason=None if sides else "no breast could be assessed")


@pytest.fixture
def study_library(library: Library) -> Library:
    with library.transaction() as conn:
        conn.execute("INSERT INTO studies (study_uid, first_imported_at) VALUES (?, ?)",
                     (STUDY, "2024-01-01T00:00:00+00:00"))
    return library


def _rows(library: Library) -> int:
    return int(library.conn.execute("SELECT COUNT(*) FROM ai_results").fetchone()[0])


def test_completeness_counts_assessed_breasts_then_scored_views():
    assert _result(40.0).completeness() == (2, 4)
    assert _result(40.0, ("RCC", "RMLO", "LCC")).completeness() == (1, 2)
    assert _result(None, ("LCC",)).completeness() == (0, 0)
    assert _result(40.0, ("RCC", "RMLO")).completeness() > _result(None, VIEWS[:2]).completeness()


def test_rerunning_the_same_model_replaces_the_result_in_one_row_with_the_same_id(
        study_library):
    first = save_result(study_library, _result(40.0))
    assert first.stored
    again = save_result(study_library, _result(55.0, created_at="2024-06-01T10:00:00+02:00"))
    assert again.stored and again.result_id == first.result_id
    assert _rows(study_library) == 1
    kept = result_by_id(study_library, first.result_id)
    assert kept is not None and kept.exam_score == 55.0
    assert latest_exam_scores(study_library) == {STUDY: 55.0}


def test_a_partial_analysis_never_replaces_a_complete_result(study_library):
    complete = save_result(study_library, _result(40.0))
    partial = save_result(study_library, _result(None, ("LCC",)))
    assert not partial.stored and partial.result_id == complete.result_id
    assert partial.kept_reason is not None and "more complete" in partial.kept_reason
    assert "2 breasts, 4 views assessed" in partial.kept_reason
    kept = latest_result(study_library, STUDY, MODEL)
    assert kept is not None and kept.exam_score == 40.0
    assert sum(len(v.marks) for v in kept.views) == 4
    assert _rows(study_library) == 1


def test_a_more_complete_analysis_replaces_a_partial_one(study_library):
    partial = save_result(study_library, _result(30.0, ("RCC", "RMLO")))
    complete = save_result(study_library, _result(45.0))
    assert complete.stored and complete.result_id == partial.result_id
    kept = latest_result(study_library, STUDY, MODEL)
    assert kept is not None and kept.completeness() == (2, 4)


def test_another_model_version_gets_its_own_row_and_the_newest_is_shown(study_library):
    save_result(study_library, _result(40.0))
    save_result(study_library, _result(20.0, version="1.1.0",
                                       created_at="2024-07-01T10:00:00+02:00"))
    assert _rows(study_library) == 2
    assert study_uids_with_result(study_library, MODEL) == {STUDY}
    assert study_uids_with_result(study_library, ("mammodesk-phantom", "2.0")) == set()
    assert latest_exam_scores(study_library) == {STUDY: 20.0}
    # Analysed again by 1.0.0 later: that analysis is now the newest.
    save_result(study_library, _result(41.0, created_at="2024-08-01T10:00:00+02:00"))
    assert latest_exam_scores(study_library) == {STUDY: 41.0}
    assert _rows(study_library) == 2


# -- schema v5 ------------------------------------------------------------------


def _v4_library(path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, MIGRATIONS[:4])
    conn.execute("INSERT INTO studies (study_uid, first_imported_at) VALUES (?, ?)",
                 (STUDY, "2024-01-01"))
    return conn


def _add(conn: sqlite3.Connection, result: ExamResult, model: tuple[str, str] = MODEL) -> int:
    cur = conn.execute(
        "INSERT INTO ai_results (study_uid, model_name, model_version, created_at, result_json)"
        " VALUES (?, ?, ?, ?, ?)", (STUDY, *model, result.created_at,
                                    json.dumps(result.to_dict())))
    return int(cur.lastrowid or 0)


def _queue(conn: sqlite3.Connection, sources: list[str]) -> int:
    box = conn.execute("INSERT INTO outbox (study_uid, state, enqueued_at, updated_at) "
                       "VALUES (?, 'queued', 'now', 'now')", (STUDY,)).lastrowid
    for source in sources:
        conn.execute("INSERT INTO outbox_items (outbox_id, study_uid, kind, source, state, "
                     "updated_at) VALUES (?, ?, 'cad_sr', ?, 'queued', 'now')",
                     (box, STUDY, source))
    return int(box or 0)


def test_migration_v5_keeps_the_most_complete_then_newest_result_and_repoints_the_outbox(
        tmp_path):
    conn = _v4_library(tmp_path / "library.db")
    complete = _add(conn, _result(40.0))
    newer_complete = _add(conn, _result(42.0))
    partial = _add(conn, _result(None, ("LCC",)))  # newest, but judged nothing
    other_model = _add(conn, _result(10.0), ("other", "2"))
    box_a = _queue(conn, [f"ai:{complete}"])
    box_b = _queue(conn, [f"ai:{partial}", f"ai:{newer_complete}"])
    assert migrate(conn) == SCHEMA_VERSION  # through v5, which collapses the duplicates
    rows = conn.execute("SELECT id, json_extract(result_json, '$.exam_score') "
                        "FROM ai_results ORDER BY id").fetchall()
    assert rows == [(newer_complete, 42.0), (other_model, 10.0)]
    items = conn.execute("SELECT outbox_id, source FROM outbox_items ORDER BY id").fetchall()
    assert items == [(box_a, f"ai:{newer_complete}"), (box_b, f"ai:{newer_complete}")]
    with pytest.raises(sqlite3.IntegrityError):
        _add(conn, _result(50.0))
    conn.close()


def test_migration_v5_on_a_library_without_duplicates_changes_no_result(tmp_path):
    conn = _v4_library(tmp_path / "library.db")
    one = _add(conn, _result(40.0))
    _queue(conn, [f"ai:{one}"])
    migrate(conn)
    assert conn.execute("SELECT id FROM ai_results").fetchall() == [(one,)]
    assert conn.execute("SELECT source FROM outbox_items").fetchall() == [(f"ai:{one}",)]
    conn.close()


def test_a_withheld_result_keeps_its_numbers_aside_through_the_library(study_library):
    result = _result(40.0)
    result.withhold(["RCC: image features unlike the training images"])
    assert result.exam_score is None and result.withheld_exam_score is not None
    assert not any(v.marks for v in result.views)
    back = ExamResult.from_dict(result.to_dict(heatmaps=True))
    assert back.outside_training is True and back.reason == result.reason
    assert back.withheld_exam_score == result.withheld_exam_score
    assert [len(v.withheld_marks) for v in back.views] == [len(v.withheld_marks)
                                                           for v in result.views]
    assert back.completeness() == result.completeness() == (2, 4)
    assert save_result(study_library, result).stored
    kept = latest_result(study_library, STUDY, MODEL)
    assert kept is not None and kept.exam_score is None and kept.outside_training is True
    assert latest_exam_scores(study_library)[STUDY] is None  # the worklist shows no score
