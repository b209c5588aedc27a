"""The radiologist's read (draft, sign-off, lock, addendum) and the worklist."""

from __future__ import annotations

import pytest

from engine.errors import MammoDeskError
from engine.library import import_paths, outbox
from engine.library.ai_results import add_result
from engine.library.reads import (
    Finding,
    Read,
    SignoffRefused,
    add_addendum,
    current_read,
    reads_for,
    save_draft,
    sign,
)
from engine.library.worklist import (
    AI_DONE,
    DRAFT,
    NEW,
    SENT,
    SIGNED,
    SYNC_FAILED,
    prior_study,
    worklist,
)


@pytest.fixture
def imported(library, small_cohort):
    import_paths(library, small_cohort.files)
    return library


def _study(library) -> str:
    return worklist(library)[0].study_uid


def complete_read() -> Read:
    return Read(
        birads={"R": "1", "L": "4B"},
        density={"R": "c", "L": "c"},
        findings=[Finding("L", "mass", "2 o'clock, middle third", 9.0, "spiculated",
                          descriptors=["irregular", "spiculated"], clock="2:00",
                          depth="middle", nipple_mm=45.0)],
        impression="Suspicious left breast mass; biopsy recommended.",
        recommendation="biopsy",
    )


def test_draft_is_saved_and_updated_until_signed(imported):
    uid = _study(imported)
    draft = save_draft(imported, uid, "Dr A", Read(birads={"R": "1", "L": None}))
    assert not draft.signed and draft.read.birads == {"R": "1", "L": None}
    again = save_draft(imported, uid, "Dr A", complete_read())
    assert again.id == draft.id and again.read.findings[0].location == "2 o'clock, middle third"
    assert len(reads_for(imported, uid)) == 1


def test_signing_locks_the_read_and_records_reader_and_time(imported):
    uid = _study(imported)
    save_draft(imported, uid, "Dr A", complete_read())
    signed = sign(imported, uid, "Dr B")
    assert signed.signed and signed.reader == "Dr B" and signed.signed_at.startswith("20")
    with pytest.raises(MammoDeskError, match="signed and locked; add an addendum"):
        save_draft(imported, uid, "Dr A", Read())
    with pytest.raises(MammoDeskError, match="already signed"):
        sign(imported, uid, "Dr B")
    assert current_read(imported, uid).read.birads == {"R": "1", "L": "4B"}
    assert current_read(imported, uid).read == complete_read()


def test_cannot_sign_an_incomplete_read(imported):
    uid = _study(imported)
    save_draft(imported, uid, "Dr A", Read(birads={"R": "1", "L": "3"},
                                           density={"R": "b", "L": None}))
    with pytest.raises(SignoffRefused) as refused:
        sign(imported, uid, "Dr A")
    assert refused.value.problems == [
        "no breast composition (density) for the left breast",
        "no management recommendation",
        "BI-RADS 3 for the left breast needs at least one finding on that side",
    ]
    assert str(refused.value).startswith("cannot sign: no breast composition")
    assert not current_read(imported, uid).signed  # the draft stays a draft
    with pytest.raises(MammoDeskError, match="no read to sign"):
        sign(imported, worklist(imported)[1].study_uid, "Dr A")


def test_addendum_follows_a_signed_read(imported):
    uid = _study(imported)
    save_draft(imported, uid, "Dr A", complete_read())
    with pytest.raises(MammoDeskError, match="sign the read first"):
        add_addendum(imported, uid, "Dr A", "Compared with outside films.")
    sign(imported, uid, "Dr A")
    add = add_addendum(imported, uid, "Dr C", "Compared with outside films: stable.")
    assert add.signed and add.addendum_of == current_read(imported, uid).id
    assert [r.text for r in reads_for(imported, uid)][-1] == "Compared with outside films: stable."
    with pytest.raises(MammoDeskError, match="needs some text"):
        add_addendum(imported, uid, "Dr C", "  ")


@pytest.mark.parametrize(
    "read,message",
    [
        (Read(birads={"R": "7", "L": None}), "BI-RADS for the right breast must be one of 0, "),
        (Read(recommendation="later"), "unknown recommendation 'later'"),
        (Read(findings=[Finding("R", "mass", clock="25")]), "clock-face position"),
        (Read(findings=[Finding("R", "mass", descriptors=["fuzzy"])]), "not a BI-RADS descriptor"),
        (Read(density={"R": None, "L": "e"}), "density for the left breast must be a, b, c or d"),
        (Read(findings=[Finding("X", "mass")]), "a finding needs a side"),
        (Read(findings=[Finding("R", "lump")]), "unknown finding type"),
    ],
)
def test_bad_reads_are_refused_in_one_line(imported, read, message):
    with pytest.raises(MammoDeskError, match=message):
        save_draft(imported, _study(imported), "Dr A", read)
    assert reads_for(imported, _study(imported)) == []


def test_reader_name_and_study_are_required(imported):
    with pytest.raises(MammoDeskError, match="reader's name"):
        save_draft(imported, _study(imported), "  ", Read())
    with pytest.raises(MammoDeskError, match="no such study"):
        save_draft(imported, "1.2.3", "Dr A", Read())


def test_worklist_status_follows_the_study(imported):
    uid = _study(imported)
    assert {r.status for r in worklist(imported)} == {NEW}
    add_result(imported, uid, ("m", "1"), "2024-01-01", {"exam_score": 42.5})
    row = next(r for r in worklist(imported) if r.study_uid == uid)
    assert (row.status, row.exam_score) == (AI_DONE, 42.5)
    save_draft(imported, uid, "Dr A", complete_read())
    assert next(r for r in worklist(imported) if r.study_uid == uid).status == DRAFT
    sign(imported, uid, "Dr A", queue=False)
    assert next(r for r in worklist(imported) if r.study_uid == uid).status == SIGNED
    outbox.enqueue(imported, [uid], "signed")
    assert next(r for r in worklist(imported) if r.study_uid == uid).status == SIGNED
    [(box, _)] = outbox.open_studies(imported)
    outbox.set_state(imported, [i.id for i in outbox.items(imported, box)], outbox.CONFIRMED)
    outbox.settle_study(imported, box)
    assert next(r for r in worklist(imported) if r.study_uid == uid).status == SENT
    outbox.set_state(imported, [outbox.items(imported, box)[0].id], outbox.FAILED)
    outbox.settle_study(imported, box)
    assert next(r for r in worklist(imported) if r.study_uid == uid).status == SYNC_FAILED


def test_worklist_views_search_and_prior(imported, small_cohort):
    rows = worklist(imported)
    assert all(r.views == ["RCC", "LCC", "RMLO", "LMLO"] for r in rows)
    with_prior = [r for r in rows if r.has_prior]
    assert len(with_prior) == 1  # the cohort has one woman with a prior
    current = with_prior[0]
    prior = prior_study(imported, current.study_uid)
    assert prior is not None and prior != current.study_uid
    assert prior_study(imported, prior) is None
    assert current.matches(current.patient_id.lower()) and not current.matches("zzz")
    assert rows == sorted(rows, key=lambda r: r.study_date, reverse=True)


def test_signing_locks_the_read_and_queues_the_study_in_one_step(imported):
    uid = _study(imported)
    signed = sign(imported, uid, "Dr A", complete_read())
    assert signed.signed and signed.read == complete_read()
    [(box, queued_uid)] = outbox.open_studies(imported)
    kinds = {i.kind for i in outbox.items(imported, box)}
    assert queued_uid == uid and outbox.ASSESSMENT_SR in kinds and outbox.IMAGE in kinds


def test_a_read_that_cannot_be_signed_is_neither_signed_nor_queued(imported):
    uid = _study(imported)
    incomplete = Read(birads={"R": "1", "L": None})
    with pytest.raises(SignoffRefused,
                       match=r"cannot sign: no breast composition .*no BI-RADS assessment for"):
        sign(imported, uid, "Dr A", incomplete)
    assert current_read(imported, uid) is None  # the draft of the failed signing is gone too
    assert outbox.open_studies(imported) == []
