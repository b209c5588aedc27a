"""The worklist's age at the study, the urgent/routine priority, and the
filters a radiologist narrows the list with."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from engine.library import Library
from engine.library.priority import UnknownStudy, set_priority
from engine.library.worklist import (
    AI_DONE,
    DRAFT,
    NEW,
    SENT,
    SIGNED,
    STATUSES,
    UNREAD,
    WorklistFilter,
    WorklistRow,
    last_days,
    status_choices,
    worklist,
)


def _add_study(library: Library, uid: str, birth: str, date: str) -> None:
    with library.transaction() as conn:
        conn.execute("INSERT INTO studies (study_uid, patient_id, patient_birth_date, "
                     "study_date, first_imported_at) VALUES (?, ?, ?, ?, ?)",
                     (uid, f"P-{uid}", birth, date, "2024-01-01T00:00:00"))


def _row(library: Library, uid: str) -> WorklistRow:
    return next(r for r in worklist(library) if r.study_uid == uid)


@pytest.mark.parametrize(("birth", "date", "age"), [
    ("19700615", "20240615", 54),  # the birthday itself
    ("19700615", "20240614", 53),  # the day before: not yet reached that year
    ("19701231", "20240101", 53),
    ("19700101", "20241231", 54),
    ("19720229", "20240228", 51),  # born on 29 February
    ("19720229", "20240229", 52),
    ("", "20240101", None),  # no birth date
    ("19700615", "", None),  # no study date
    ("1970", "20240101", None),  # malformed
    ("19700230", "20240101", None),  # no such day
    ("20250101", "20240101", None),  # born after the study
])
def test_age_in_whole_years_at_the_study(library, birth, date, age):
    _add_study(library, "1.2.3", birth, date)
    assert _row(library, "1.2.3").age == age


def test_a_study_is_routine_until_marked_urgent_and_it_persists(library, tmp_path):
    _add_study(library, "1.2.3", "19700101", "20240101")
    _add_study(library, "1.2.4", "19700101", "20240102")
    assert [r.priority for r in worklist(library)] == ["", ""]
    assert set_priority(library, "1.2.3", True) == "urgent"
    with Library(tmp_path / "library") as again:  # another process's view
        assert _row(again, "1.2.3").urgent and not _row(again, "1.2.4").urgent
    set_priority(library, "1.2.3", True)  # twice is fine
    assert _row(library, "1.2.3").urgent
    assert set_priority(library, "1.2.3", False) == ""
    assert not _row(library, "1.2.3").urgent


def test_an_unknown_study_says_so_without_its_uid(library):
    with pytest.raises(UnknownStudy) as caught:
        set_priority(library, "9.9.9", True)
    assert "no such study" in str(caught.value) and "9.9.9" not in str(caught.value)


def test_urgent_is_searchable():
    urgent = _plain("1", priority="urgent")
    assert urgent.matches("urgent") and not _plain("2").matches("urgent")


# -- filters -----------------------------------------------------------------------


def _plain(uid: str, **changes) -> WorklistRow:
    row = WorklistRow(study_uid=uid, patient_id=f"MDP-{uid}", patient_name="Synthetic^Anna",
                      study_date="20240105", description="screening", views=["RCC"],
                      status=NEW, exam_score=None, has_prior=False, ai_scope="")
    return dataclasses.replace(row, **changes)


ROWS = [
    _plain("1", status=NEW, priority="urgent", study_date="20240105"),
    _plain("2", status=AI_DONE, study_date="20240101"),
    _plain("3", status=DRAFT, priority="urgent", study_date="20231201"),
    _plain("4", status=SIGNED, study_date="20240104"),
    _plain("5", status=SENT, priority="urgent", study_date=""),
]


def _shown(rule: WorklistFilter) -> list[str]:
    return [r.study_uid for r in ROWS if rule.accepts(r)]


def test_each_filter_narrows_and_they_combine():
    assert _shown(WorklistFilter()) == ["1", "2", "3", "4", "5"]
    assert _shown(WorklistFilter(statuses=frozenset(UNREAD))) == ["1", "2", "3"]
    assert _shown(WorklistFilter(statuses=frozenset({SIGNED}))) == ["4"]
    assert _shown(WorklistFilter(urgent_only=True)) == ["1", "3", "5"]
    since, until = last_days(7, dt.date(2024, 1, 5))
    assert _shown(WorklistFilter(since=since, until=until)) == ["1", "2", "4"]  # no date: out
    assert _shown(WorklistFilter(statuses=frozenset(UNREAD), urgent_only=True,
                                 since=since, until=until)) == ["1"]
    assert _shown(WorklistFilter(text="MDP-3", urgent_only=True)) == ["3"]
    assert _shown(WorklistFilter(text="MDP-2", urgent_only=True)) == []


def test_date_ranges_end_today():
    today = dt.date(2024, 3, 1)
    assert last_days(1, today) == ("20240301", "20240301")
    assert last_days(7, today) == ("20240224", "20240301")  # across February's end


def test_the_status_filter_follows_the_statuses():
    choices = status_choices()
    labels = [label for label, _shows, _help in choices]
    assert labels == ["all", "unread", *STATUSES]
    shows = {label: statuses for label, statuses, _help in choices}
    assert shows["all"] is None and shows["unread"] == UNREAD
    assert all(shows[s] == {s} for s in STATUSES)
    assert all(help_text for _label, _shows, help_text in choices)
