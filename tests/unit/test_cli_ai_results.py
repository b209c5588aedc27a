"""AI results a user can trust in the case library, through the command line:
analysing one file of a study leaves the study's complete result in place,
an interrupted import followed by a re-import leaves every study with a
result, ``analyze --missing`` fills what is left, and ``studies`` shows it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest

from engine.library import Library
from engine.library.ai_results import latest_result_id
from engine.reading.open_study import open_library_study
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow  # each test runs the command line several times


def _listing(home: Path) -> dict[str, dict]:
    done = run_cli("studies", "--json", home=home)
    assert done.returncode == 0, done.stderr
    return {s["study_uid"]: s for s in json.loads(done.stdout)["studies"]}


def _study_folders(cohort: Path) -> dict[str, Path]:
    """Study UID -> the folder the phantom wrote it to."""
    out = {}
    for folder in sorted(p for p in cohort.iterdir() if p.is_dir()):
        first = next(folder.glob("*.dcm"))
        out[str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)] = folder
    return out


def _marks(result) -> list[tuple[str, float, float, float]]:
    return sorted((v.view, m.x, m.y, m.score) for v in result.views for m in v.marks)


def _result_rows(home: Path) -> dict[str, int]:
    """Study UID -> the id of its result row (every study has one row at most)."""
    uids = list(_listing(home))
    with Library(home / "library") as lib:
        rows = lib.conn.execute("SELECT study_uid, id FROM ai_results").fetchall()
    assert len(rows) == len({uid for uid, _ in rows}) and {uid for uid, _ in rows} <= set(uids)
    return dict(rows)


def test_analysing_one_file_of_a_library_study_leaves_its_complete_result(
        tmp_path, scored_cohort):
    home = tmp_path / "home"
    done = run_cli("import", str(scored_cohort.out_dir), home=home)
    assert done.returncode == 0, done.stderr[-2000:]
    uid, folder = next(iter(_study_folders(scored_cohort.out_dir).items()))
    before = _listing(home)[uid]["ai_result"]
    assert before["status"] == "done" and before["exam_score"] is not None
    with Library(home / "library") as lib:
        shown = open_library_study(lib, uid).result  # what the reading view shows
        rid = latest_result_id(lib, uid)
    assert shown is not None and shown.exam_score == before["exam_score"]

    one_file = str(next(folder.glob("*.dcm")))
    text = run_cli("analyze", one_file, home=home)
    assert text.returncode == 0, text.stderr[-2000:]
    notes = [line for line in text.stdout.splitlines() if line.startswith("not stored:")]
    assert len(notes) == 1 and "more complete result" in notes[0], text.stdout
    doc = json.loads(run_cli("analyze", one_file, "--json", home=home).stdout)
    assert doc["stored_in_library"] is False
    assert "more complete result" in doc["library_kept_reason"]
    assert doc["reason"] == "no breast could be assessed"  # the one file's own result

    assert _listing(home)[uid]["ai_result"] == before  # the worklist score stays
    with Library(home / "library") as lib:
        after = open_library_study(lib, uid).result
        assert latest_result_id(lib, uid) == rid
        rows = lib.conn.execute("SELECT COUNT(*) FROM ai_results WHERE study_uid = ?",
                                (uid,)).fetchone()[0]
    assert rows == 1
    assert after is not None and after.exam_score == shown.exam_score
    assert _marks(after) == _marks(shown) and _marks(after)


def test_an_interrupted_import_then_a_reimport_leaves_every_study_with_a_result(
        tmp_path, scored_cohort):
    home, source = tmp_path / "home", tmp_path / "incoming"
    folders = _study_folders(scored_cohort.out_dir)
    # The first import stopped before the AI ran, with half the studies in.
    for folder in list(folders.values())[:2]:
        shutil.copytree(folder, source / folder.name)
    assert run_cli("import", "--no-ai", str(source), home=home).returncode == 0
    table = run_cli("studies", home=home).stdout
    assert "AI result" in table.splitlines()[0]
    assert table.count("none yet") == 2

    for folder in folders.values():
        shutil.copytree(folder, source / folder.name, dirs_exist_ok=True)
    done = run_cli("import", "--json", str(source), home=home)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert set(report["ai"]) == set(folders)  # the new studies and those left behind
    listing = _listing(home)
    assert set(listing) == set(folders)
    assert all(s["ai_result"]["status"] == "done" for s in listing.values()), listing
    assert "none yet" not in run_cli("studies", home=home).stdout

    ids = _result_rows(home)
    again = run_cli("import", "--json", str(source), home=home)
    assert json.loads(again.stdout)["ai"] == {}  # nothing new, nothing missing
    assert _result_rows(home) == ids


def test_analyze_missing_gives_every_study_in_scope_a_result_once(tmp_path, scored_cohort):
    home = tmp_path / "home"
    assert run_cli("import", "--no-ai", str(scored_cohort.out_dir), home=home).returncode == 0
    assert {s["ai_result"]["status"] for s in _listing(home).values()} == {"none"}

    done = run_cli("analyze", "--missing", "--json", home=home)
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(done.stdout)
    assert set(doc["ai"]) == set(_listing(home)) and doc["failed"] == 0
    assert all(s["status"] == "done" and s["exam_score"] is not None
               for s in doc["ai"].values())
    listing = _listing(home)
    assert all(listing[uid]["ai_result"]["exam_score"] == s["exam_score"]
               for uid, s in doc["ai"].items())

    ids = _result_rows(home)
    text = run_cli("analyze", "--missing", home=home)
    assert text.returncode == 0
    assert "every library study in the AI's scope has a result" in text.stdout
    assert _result_rows(home) == ids


def test_analyze_needs_a_target_or_missing_and_not_both(tmp_path):
    for args, says in ((("analyze",), "needs a PATH or study UID"),
                       (("analyze", "--missing", "1.2.3"), "takes no PATH|UID")):
        done = run_cli(*args, home=tmp_path)
        assert done.returncode == 2
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and says in lines[0], done.stderr
