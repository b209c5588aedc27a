"""Double reading: two readers blind to each other, arbitration of a
disagreement on recall, the final read, the cloud queue only once decided,
the decisive read sent, addenda on the final read, and the switch back."""

from __future__ import annotations

import datetime as dt
import json

import pydicom
import pytest

from engine.errors import MammoDeskError
from engine.library import Library, import_paths, list_studies, outbox
from engine.library.double_reads import others_visible, read_of, stage, stages, standings
from engine.library.outcomes import add_outcomes, audit_data, make_outcome
from engine.library.reads import (
    Finding,
    Read,
    add_addendum,
    current_read,
    reads_for,
    save_draft,
    sign,
)
from engine.library.worklist import worklist
from engine.reading import double_reading as dr
from engine.reading.audit import audit
from engine.settings import Settings
from sync.deid.deidentify import Deidentifier
from sync.deid.keys import create_site_secret
from sync.deid.profile import profile_from_settings
from sync.stage import Stager
from tests.support.dicom_factory import mg_dataset
from tests.support.sr import items
from ui.cli import main


def negative(birads: str = "1") -> Read:
    return Read(birads={"R": birads, "L": "1"}, density={"R": "b", "L": "b"},
                recommendation="routine", impression="no recall")


def recall() -> Read:
    return Read(birads={"R": "0", "L": "1"}, density={"R": "b", "L": "b"},
                recommendation="recall", impression="recall right")


def biopsy() -> Read:
    return Read(birads={"R": "4B", "L": "1"}, density={"R": "c", "L": "c"},
                findings=[Finding("R", "mass", descriptors=["irregular"])],
                recommendation="biopsy", impression="biopsy right")


@pytest.fixture
def study(library, small_cohort):
    import_paths(library, small_cohort.files)
    return library, worklist(library)[0].study_uid


def _double_sign(library, uid, reader, read):
    return sign(library, uid, reader, read, double=True)


def _queued(library, uid) -> list[str]:
    return [s for (s,) in library.conn.execute(
        "SELECT source FROM outbox_items WHERE study_uid = ? AND kind = ?",
        (uid, outbox.ASSESSMENT_SR))]


def test_the_setting_is_off_by_default_and_yes_or_no(tmp_path):
    settings = Settings(tmp_path)
    assert settings.effective("reading.double_reading").value == "no"
    settings.update({"reading.double_reading": "yes"})
    assert settings.get("reading.double_reading") == "yes"
    with pytest.raises(MammoDeskError, match=r"reading\.double_reading must be yes or no"):
        settings.update({"reading.double_reading": "twice"})


def test_off_the_read_is_single_and_anyone_continues_the_draft(study):
    library, uid = study
    save_draft(library, uid, "Dr A", negative())
    stored = sign(library, uid, "Dr B", negative())
    assert stored.role == "single" and len(reads_for(library, uid)) == 1
    assert stage(library, uid).name == dr.READ_ONCE and stage(library, uid).recall is False
    assert _queued(library, uid) == [f"read:{stored.id}"]


def test_first_saver_is_first_another_second_each_blind_to_the_other(study):
    library, uid = study
    a = save_draft(library, uid, "Dr A", negative(), double=True)
    b = save_draft(library, uid, "Dr B", recall(), double=True)
    assert (a.role, b.role) == ("first", "second")
    # Each sees and edits only their own read.
    assert read_of(library, uid, "Dr A", double=True).id == a.id
    assert read_of(library, uid, " dr  b ", double=True).id == b.id
    assert read_of(library, uid, "Dr C", double=True) is None
    again = save_draft(library, uid, "Dr A", negative("2"), double=True)
    assert again.id == a.id and read_of(library, uid, "Dr B", double=True).read.birads["R"] == "0"
    _double_sign(library, uid, "Dr A", negative())
    assert others_visible(library, uid, "Dr B") == []  # the first is signed, the second not
    assert others_visible(library, uid, "Dr A") == []
    assert stage(library, uid).name == dr.AWAITING_SECOND
    assert current_read(library, uid) is None  # nothing decided: no read stands for the study


def test_one_reader_cannot_read_a_study_twice(study):
    library, uid = study
    _double_sign(library, uid, "Dr A", negative())
    with pytest.raises(MammoDeskError, match="you read this study first: its second read must "
                                             "be by another reader"):
        save_draft(library, uid, "DR A", negative(), double=True)
    assert [r.role for r in reads_for(library, uid)] == ["first"]


def test_agreement_decides_with_the_worse_read_and_only_then_queues(study):
    library, uid = study
    first = _double_sign(library, uid, "Dr A", negative())
    assert _queued(library, uid) == [] and stage(library, uid).name == dr.AWAITING_SECOND
    second = _double_sign(library, uid, "Dr B", negative("2"))
    now = stage(library, uid)
    assert now.name == dr.AGREED and now.recall is False
    assert now.final.id == second.id  # BI-RADS 2 is worse than 1
    assert _queued(library, uid) == [f"read:{second.id}"]
    # Both signed: each may now see the other's read.
    assert [r.id for r in others_visible(library, uid, "Dr A")] == [second.id]
    assert [r.id for r in others_visible(library, uid, "Dr B")] == [first.id]
    with pytest.raises(MammoDeskError, match="the two readers agreed on recall: this study "
                                             "needs no third read"):
        save_draft(library, uid, "Dr C", recall(), double=True)


def test_agreement_on_a_tie_keeps_the_first_read(study):
    library, uid = study
    first = _double_sign(library, uid, "Dr A", negative())
    _double_sign(library, uid, "Dr B", negative())
    assert stage(library, uid).final.id == first.id


def test_disagreement_goes_to_a_third_reader_whose_read_is_final(study):
    library, uid = study
    first = _double_sign(library, uid, "Dr A", recall())
    second = _double_sign(library, uid, "Dr B", negative())
    now = stage(library, uid)
    assert now.name == dr.ARBITRATION_NEEDED and not now.decided and now.recall is None
    assert _queued(library, uid) == []
    for reader in ("Dr A", "Dr B"):
        with pytest.raises(MammoDeskError, match="its arbitration must be by a third reader"):
            save_draft(library, uid, reader, negative(), double=True)
    draft = save_draft(library, uid, "Dr C", recall(), double=True)
    assert draft.role == "arbitration"
    assert {r.id for r in others_visible(library, uid, "Dr C")} == {first.id, second.id}
    # The arbitration draft is shown to no one else.
    assert [r.id for r in others_visible(library, uid, "Dr A")] == [second.id]
    with pytest.raises(MammoDeskError, match="another reader is arbitrating this study"):
        save_draft(library, uid, "Dr D", negative(), double=True)
    arbitration = _double_sign(library, uid, "Dr C", recall())
    now = stage(library, uid)
    assert now.name == dr.ARBITRATED and now.final.id == arbitration.id and now.recall is True
    assert _queued(library, uid) == [f"read:{arbitration.id}"]
    with pytest.raises(MammoDeskError, match="arbitration is signed: its reading is decided"):
        save_draft(library, uid, "Dr D", negative(), double=True)


def test_addenda_follow_the_final_read_once_decided(study):
    library, uid = study
    _double_sign(library, uid, "Dr A", negative())
    with pytest.raises(MammoDeskError, match="double reading is not decided yet"):
        add_addendum(library, uid, "Dr A", "comparison with outside films")
    second = _double_sign(library, uid, "Dr B", negative("2"))
    note = add_addendum(library, uid, "Dr A", "comparison with outside films")
    assert note.addendum_of == second.id and stage(library, uid).name == dr.AGREED


def test_bulk_stages_match_each_study(study):
    library, uid = study
    _double_sign(library, uid, "Dr A", negative())
    every = stages(library)
    assert set(every) == {r.study_uid for r in worklist(library)}
    assert every[uid].name == dr.AWAITING_SECOND
    assert {s.name for u, s in every.items() if u != uid} == {dr.AWAITING_FIRST}
    for u in every:
        assert every[u].name == stage(library, u).name


def test_switched_off_a_begun_double_reading_keeps_its_rules(study):
    library, uid = study
    first = _double_sign(library, uid, "Dr A", negative())
    # The setting is off now (double=False): the study still reads twice, blind.
    assert read_of(library, uid, "Dr B") is None
    second = sign(library, uid, "Dr B", negative())
    assert second.role == "second" and stage(library, uid).final.id == first.id
    # And a study read once stays read once when the setting is switched on.
    other = worklist(library)[1].study_uid
    single = sign(library, other, "Dr A", negative())
    assert read_of(library, other, "Dr B", double=True).id == single.id
    assert stage(library, other).name == dr.READ_ONCE


def test_standings_say_each_reads_role_exam_and_finality(study):
    library, uid = study
    first = _double_sign(library, uid, "Dr A", negative())
    diagnostic = negative("2")
    diagnostic.exam = "diagnostic"
    _double_sign(library, uid, "Dr B", diagnostic)
    assert first.read.exam == "screening"
    assert standings(library) == {
        (uid, "dr a"): dr.Standing("first", "screening", False),
        (uid, "dr b"): dr.Standing("second", "diagnostic", True),
    }


def test_sync_sends_the_final_read_not_the_last_signed(study, plaintext_keyring, tmp_path):
    library, uid = study
    _double_sign(library, uid, "Dr A", biopsy())  # 4B: worse, so final
    second = _double_sign(library, uid, "Dr B", recall())  # 0: both recall, agreed
    assert stage(library, uid).final.role == "first"
    assert _queued(library, uid) == [f"read:{second.id}"]  # the item the sign queued
    stager = Stager(library, tmp_path / "outbox",
                    Deidentifier(profile_from_settings({}), create_site_secret()))
    (box, _), = outbox.open_studies(library)
    stager.prepare(outbox.items(library, box))
    (sr,) = [d for d in map(pydicom.dcmread, (tmp_path / "outbox").rglob("*.dcm"))
             if d.Modality == "SR" and d.SOPClassUID != "1.2.840.10008.5.1.4.1.1.88.50"]
    meanings = {i.ConceptCodeSequence[0].CodeMeaning for i in items(sr)
                if "ConceptCodeSequence" in i}
    assert any(m.startswith("4B") for m in meanings), meanings
    assert not any(m.startswith("0 ") for m in meanings), meanings


# -- the audit: each reader's own reads, the site's final decisions ------------

def _uid(name: str) -> str:
    return f"1.2.826.0.1.3680043.10.1234.77{sum(ord(c) * 7 ** i for i, c in enumerate(name))}"


@pytest.fixture
def double_read(library, tmp_path):
    """S1: A recall, B no recall, C arbitrates recall (a cancer).  S2: both no
    recall.  S3: both recall.  S4: only A's first read, signed."""
    folder = tmp_path / "dicom"
    folder.mkdir()
    for n, name in enumerate(("S1", "S2", "S3", "S4")):
        mg_dataset(StudyInstanceUID=_uid(name), PatientID=f"SYN-{n}",
                   StudyDate=f"2024020{n + 1}").save_as(folder / f"{name}.dcm",
                                                        enforce_file_format=True)
    assert not import_paths(library, [folder]).rejected
    plan = {"S1": [("Dr A", recall()), ("Dr B", negative()), ("Dr C", recall())],
            "S2": [("Dr A", negative()), ("Dr B", negative())],
            "S3": [("Dr A", recall()), ("Dr B", recall())],
            "S4": [("Dr A", negative())]}
    for name, reads in plan.items():
        for reader, read in reads:
            _double_sign(library, _uid(name), reader, read)
    add_outcomes(library, [make_outcome(_uid("S1"), "R", "malignant", "2024-03-01",
                                        "invasive ductal")])
    return library


def test_audit_counts_each_readers_own_reads_and_the_sites_final_ones(double_read):
    report = audit(audit_data(double_read, None), as_of=dt.date(2025, 6, 30))
    a, b, c = (report.readers[n].measures for n in ("Dr A", "Dr B", "Dr C"))
    assert (a.exams, a.recalls, a.cancers) == (4, 2, 1)  # S1-S4, recalls S1 S3
    assert (b.exams, b.recalls, b.cancers, b.false_negatives) == (3, 1, 0, 1)
    assert (c.exams, c.recalls, c.cancers) == (1, 1, 1)
    site = report.site.measures  # S1 by C's arbitration, S2 and S3 agreed; S4 undecided
    assert (site.exams, site.recalls, site.cancers) == (3, 2, 1)
    assert site.recall_rate == pytest.approx(2 / 3) and site.ppv1 == pytest.approx(1 / 2)
    assert report.as_dict()["double_reading"] == {
        "exams": 3, "disagreements": 1, "arbitrated": 1, "awaiting_arbitration": 0,
        "arbitration_rate": pytest.approx(1 / 3)}


# -- the command line ------------------------------------------------------------

def test_cli_reads_twice_with_roles_and_refuses_in_one_line(tmp_path, small_cohort, capsys):
    home = tmp_path / "home"
    assert main(["--home", str(home), "import", *map(str, small_cohort.files)]) == 0
    assert main(["--home", str(home), "config", "set", "reading.double_reading", "yes"]) == 0
    with Library(home / "library") as lib:
        uid = list_studies(lib)[0].study_uid
    normal = ["--right", "1", "--left", "1", "--density-right", "b", "--density-left", "b",
              "--recommendation", "routine", "--sign", "--json"]

    def read(reader: str, *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(["--home", str(home), "read", uid, "--reader", reader, *args])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = read("Dr A", *normal)
    first = json.loads(out)
    assert code == 0 and first["role"] == "first"
    assert first["double_reading"]["stage"] == "awaiting second read"
    assert first["double_reading"]["other_reads"] == []  # blind to the second
    code, out, err = read("Dr A", "--impression", "again")
    assert (code, out) == (2, "")
    (line,) = err.strip().splitlines()
    assert line.endswith("you read this study first: its second read must be by another reader")
    code, out, _ = read("Dr B", *normal)
    second = json.loads(out)
    assert code == 0 and second["role"] == "second"
    assert second["double_reading"] | {"other_reads": None} == {
        "stage": "agreed", "decided": True, "recall": False, "final_read_id": first["id"],
        "final_role": "first", "other_reads": None}
    assert len(second["double_reading"]["other_reads"]) == 1  # both signed: A's read shown
    code, out, err = read("Dr C", "--right", "0", "--recommendation", "recall")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "agreed on recall: this study needs no third read" in err


def test_the_worklist_shows_where_each_double_reading_stands(double_read, tmp_path):
    from engine.library.worklist import ARBITRATION, SECOND_READ, SIGNED, UNREAD

    folder = tmp_path / "more"
    folder.mkdir()
    mg_dataset(StudyInstanceUID=_uid("S5"), PatientID="SYN-5",
               StudyDate="20240206").save_as(folder / "S5.dcm", enforce_file_format=True)
    mg_dataset(StudyInstanceUID=_uid("S6"), PatientID="SYN-6",
               StudyDate="20240207").save_as(folder / "S6.dcm", enforce_file_format=True)
    assert not import_paths(double_read, [folder]).rejected
    _double_sign(double_read, _uid("S5"), "Dr A", recall())
    _double_sign(double_read, _uid("S5"), "Dr B", negative())  # disagree: nobody arbitrated
    save_draft(double_read, _uid("S6"), "Dr A", negative(), double=True)
    rows = {r.study_uid: r for r in worklist(double_read)}
    status = {name: rows[_uid(name)].status for name in ("S1", "S2", "S3", "S4", "S5", "S6")}
    assert status == {"S1": SIGNED, "S2": SIGNED, "S3": SIGNED, "S4": SECOND_READ,
                      "S5": ARBITRATION, "S6": "draft"}
    assert {SECOND_READ, ARBITRATION} <= UNREAD
    assert rows[_uid("S1")].read_by == ("Dr A", "Dr B", "Dr C")
    assert rows[_uid("S4")].signed_by("dr a") and not rows[_uid("S4")].signed_by("Dr B")
    assert rows[_uid("S6")].read_by == () and rows[_uid("S6")].reader == "Dr A"
