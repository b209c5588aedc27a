"""The worklist status keeps apart what a radiologist must tell apart: new,
AI done, a draft, a signed read, a read sent to the cloud, a failed sync."""

from __future__ import annotations

import pytest

from engine.library import import_paths, outbox
from engine.library.ai_results import add_result
from engine.library.reads import Read, save_draft, sign
from engine.library.worklist import (
    AI_DONE,
    ARBITRATION,
    DRAFT,
    NEW,
    SECOND_READ,
    SENT,
    SIGNED,
    STATUS_HELP,
    STATUSES,
    SYNC_FAILED,
    worklist,
)


def consistent() -> Read:
    return Read(birads={"R": "1", "L": "1"}, density={"R": "b", "L": "b"},
                recommendation="routine")


@pytest.fixture
def imported(library, small_cohort):
    import_paths(library, small_cohort.files)
    return library


def _status(library, uid: str) -> str:
    return next(r.status for r in worklist(library) if r.study_uid == uid)


def _settle(library, state) -> None:
    for box, _uid in outbox.open_studies(library):
        outbox.set_state(library, [i.id for i in outbox.items(library, box)], state)
        outbox.settle_study(library, box)


def test_each_status_has_its_own_name_and_help():
    assert STATUSES == (NEW, AI_DONE, DRAFT, SECOND_READ, ARBITRATION, SIGNED, SENT, SYNC_FAILED)
    assert len(set(STATUSES)) == 8 and set(STATUS_HELP) == set(STATUSES)


def test_the_status_follows_the_read_then_the_cloud(imported):
    uid = worklist(imported)[0].study_uid
    assert _status(imported, uid) == NEW
    add_result(imported, uid, ("m", "1"), "2024-01-01", {"exam_score": 12.0})
    assert _status(imported, uid) == AI_DONE
    save_draft(imported, uid, "Dr A", consistent())
    assert _status(imported, uid) == DRAFT
    sign(imported, uid, "Dr A")  # signs and queues for the cloud
    assert outbox.open_studies(imported)
    assert _status(imported, uid) == SIGNED
    _settle(imported, outbox.CONFIRMED)
    assert _status(imported, uid) == SENT


def test_a_draft_without_ai_is_a_draft(imported):
    uid = worklist(imported)[0].study_uid
    save_draft(imported, uid, "Dr A", Read())
    assert _status(imported, uid) == DRAFT


def test_a_signed_study_differs_from_one_queued_unread(imported):
    first, second = (r.study_uid for r in worklist(imported)[:2])
    sign(imported, first, "Dr A", consistent())
    outbox.enqueue(imported, [second], "manual")  # sent by hand before anyone read it
    assert _status(imported, first) == SIGNED
    assert _status(imported, second) == NEW
    _settle(imported, outbox.CONFIRMED)
    assert _status(imported, first) == SENT
    assert _status(imported, second) == NEW  # still to be read, whatever the cloud has


def test_a_failed_sync_shows_until_it_is_retried(imported):
    first, second = (r.study_uid for r in worklist(imported)[:2])
    sign(imported, first, "Dr A", consistent())
    save_draft(imported, second, "Dr A", consistent())
    outbox.enqueue(imported, [second], "manual")
    _settle(imported, outbox.FAILED)
    assert _status(imported, first) == SYNC_FAILED
    assert _status(imported, second) == SYNC_FAILED
    assert outbox.retry_failed(imported) >= 2
    assert _status(imported, first) == SIGNED
    assert _status(imported, second) == DRAFT


def test_the_status_can_be_searched_and_filtered(imported):
    first = worklist(imported)[0].study_uid
    sign(imported, first, "Dr A", consistent())
    rows = worklist(imported)
    assert [r.study_uid for r in rows if r.matches("signed")] == [first]
    assert {r.status for r in rows} == {SIGNED, NEW}


def test_the_worklist_row_carries_accession_reader_and_reading_time(library, small_cohort):
    from engine.library import import_paths
    from engine.library.listing import list_studies
    from engine.library.reads import Read, save_draft
    from engine.library.worklist import worklist

    import_paths(library, small_cohort.files)
    uid = worklist(library)[0].study_uid
    save_draft(library, uid, "Dr Reader", Read(birads={"R": "1", "L": "1"},
                                               reading_time_s=75.5))
    row = next(r for r in worklist(library) if r.study_uid == uid)
    assert row.reader == "Dr Reader" and row.reading_time_s == 75.5
    assert row.accession == list_studies(library, uid)[0].accession_number != ""
    assert row.matches("dr reader") and row.matches(row.accession.lower())
    others = [r for r in worklist(library) if r.study_uid != uid]
    assert all(r.reader == "" and r.reading_time_s is None for r in others)
