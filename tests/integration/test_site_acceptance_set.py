"""The site's own labelled breasts, taken from a real library's signed reads
and recorded outcomes: which breasts count as cancers, which as normal, and
which are left out for lack of truth."""

from __future__ import annotations

import datetime as dt

import pytest

from engine.ai.acceptance.site_set import MIN_EACH, SiteSet, site_cases, site_set
from engine.library import import_paths
from engine.library.outcomes import add_outcomes, make_outcome
from engine.library.reads import Finding, Read, save_draft, sign
from tests.support.dicom_factory import mg_dataset

TODAY = dt.date(2025, 6, 30)
NEGATIVE = {"R": "1", "L": "1"}
BENIGN = {"R": "2", "L": "1"}
RECALL = {"R": "0", "L": "1"}
BIOPSY = {"R": "4B", "L": "1"}

# name: (study date, BI-RADS, exam purpose, {side: outcome result} or {})
STUDIES = {
    "cancer-right": ("20250110", BIOPSY, "screening", {"R": "malignant"}),
    "benign-right": ("20250115", BIOPSY, "screening", {"R": "benign"}),
    "biopsied-twice": ("20250120", BIOPSY, "screening", {"R": "benign", "L": "malignant"}),
    "old-normal": ("20240101", NEGATIVE, "screening", {}),
    "old-benign-read": ("20240201", BENIGN, "screening", {}),
    "a-year-to-the-day": ("20240630", NEGATIVE, "screening", {}),
    "a-day-short": ("20240701", NEGATIVE, "screening", {}),
    "recent-normal": ("20250301", NEGATIVE, "screening", {}),
    "interval-cancer": ("20240105", NEGATIVE, "screening", {"L": "malignant"}),
    "old-recall": ("20240110", RECALL, "screening", {}),
    "diagnostic-cancer": ("20250201", BIOPSY, "diagnostic", {"R": "malignant"}),
    "diagnostic-old-normal": ("20240101", NEGATIVE, "diagnostic", {}),
    "no-date": ("", NEGATIVE, "screening", {}),
    "missed-cancer": ("20240110", NEGATIVE, "screening", {}),
}
UNSIGNED = {"draft-only": ("20240101", NEGATIVE)}
# A later study of the same woman, never read, where a cancer of the left
# breast was found eight months after a negative screen.
LATER = ("missed-cancer-later", "missed-cancer", "20240901", "2024-09-20")
OUTCOME_DATE = "2025-06-01"


def uid(name: str) -> str:
    return f"1.2.826.0.1.3680043.10.1234.77{sum(ord(c) * 11 ** i for i, c in enumerate(name))}"


def read(birads: dict[str, str], exam: str) -> Read:
    rec = {"0": "recall", "4B": "biopsy"}.get(birads["R"], "routine")
    findings = [Finding("R", "mass", descriptors=["oval"])] if birads["R"] == "4B" else []
    return Read(birads=dict(birads), density={"R": "b", "L": "b"}, findings=findings,
                recommendation=rec, exam=exam)


@pytest.fixture
def site(library, tmp_path):
    folder = tmp_path / "dicom"
    folder.mkdir()
    dates = ({n: s[0] for n, s in STUDIES.items()} | {n: s[0] for n, s in UNSIGNED.items()}
             | {LATER[0]: LATER[2]})
    patients = {n: f"SYN-{k}" for k, n in enumerate(dates)}
    patients[LATER[0]] = patients[LATER[1]]
    for name, date in dates.items():
        for view in ("CC", "MLO"):
            mg_dataset(StudyInstanceUID=uid(name), PatientID=patients[name], StudyDate=date,
                       ViewPosition=view, ImageLaterality="R").save_as(
                folder / f"{name}-{view}.dcm", enforce_file_format=True)
    assert not import_paths(library, [folder]).rejected
    for name, (_d, birads, exam, _o) in STUDIES.items():
        sign(library, uid(name), "Dr A", read(birads, exam))
    for name, (_d, birads) in UNSIGNED.items():
        save_draft(library, uid(name), "Dr A", read(birads, "screening"))
    add_outcomes(library, [make_outcome(uid(name), side, result, OUTCOME_DATE, "histology")
                           for name, (_d, _b, _e, found) in STUDIES.items()
                           for side, result in found.items()]
                 + [make_outcome(uid(LATER[0]), "L", "malignant", LATER[3], "invasive ductal")])
    return library


def test_breasts_are_labelled_from_outcomes_and_old_negative_reads(site):
    got = site_set(site, TODAY).labels
    got.pop(uid("missed-cancer"), None)  # the next test's
    assert got == {
        # A malignant outcome: a cancer; the other breast has no truth yet.
        uid("cancer-right"): {"R": 1},
        # A benign outcome: not a cancer.
        uid("benign-right"): {"R": 0},
        uid("biopsied-twice"): {"R": 0, "L": 1},
        # BI-RADS 1 or 2, followed a year without a cancer: both breasts normal.
        uid("old-normal"): {"R": 0, "L": 0},
        uid("old-benign-read"): {"R": 0, "L": 0},
        uid("a-year-to-the-day"): {"R": 0, "L": 0},
        # A cancer after a negative read is a cancer, the other breast normal.
        uid("interval-cancer"): {"R": 0, "L": 1},
    }


def test_breasts_without_truth_yet_are_left_out(site):
    got = site_set(site, TODAY).labels
    for name in ("a-day-short", "recent-normal", "old-recall", "no-date", "draft-only",
                 LATER[0]):
        assert uid(name) not in got, name


def test_a_cancer_found_within_the_year_on_a_later_study_is_not_a_normal_breast(site):
    # What the screening audit counts as this read's false negative
    # (engine.reading.audit_measures.follow_up) must not be labelled normal.
    got = site_set(site, TODAY).labels
    assert got.get(uid("missed-cancer"), {}).get("L") != 0
    assert got.get(uid("missed-cancer"), {}).get("R") in (0, None)


def test_diagnostic_exams_are_left_out(site):
    got = site_set(site, TODAY).labels
    assert uid("diagnostic-cancer") not in got
    assert uid("diagnostic-old-normal") not in got


def test_time_brings_the_recent_negatives_in(site):
    later = site_set(site, dt.date(2026, 3, 1)).labels
    assert later[uid("a-day-short")] == {"R": 0, "L": 0}
    assert later[uid("recent-normal")] == {"R": 0, "L": 0}
    assert uid("old-recall") not in later and uid("diagnostic-old-normal") not in later


def test_the_counts_and_when_the_set_is_usable(site):
    chosen = site_set(site, TODAY)
    assert not chosen.usable
    labels = {k: v for k, v in chosen.labels.items() if k != uid("missed-cancer")}
    assert (SiteSet(labels).positives, SiteSet(labels).negatives) == (3, 9)
    assert MIN_EACH == 20


def breasts(positives: int, negatives: int) -> SiteSet:
    sides = [1] * positives + [0] * negatives
    return SiteSet({f"study-{k}": {"R": v} for k, v in enumerate(sides)})


@pytest.mark.parametrize(("positives", "negatives", "usable"), [
    (20, 20, True), (19, 20, False), (20, 19, False), (19, 19, False), (40, 25, True),
    (0, 100, False),
])
def test_the_set_is_used_only_with_twenty_breasts_of_each(positives, negatives, usable):
    chosen = breasts(positives, negatives)
    assert (chosen.positives, chosen.negatives) == (positives, negatives)
    assert chosen.usable is usable


def test_both_breasts_of_a_study_count():
    chosen = SiteSet({f"s{k}": {"R": 1, "L": 0} for k in range(20)})
    assert (chosen.positives, chosen.negatives, chosen.usable) == (20, 20, True)


def test_the_chosen_studies_come_with_their_images(site):
    chosen = site_set(site, TODAY)
    got = {c.exam_id: c for c in site_cases(site, chosen)}
    assert set(got) == set(chosen.labels)
    for study, case in got.items():
        assert case.labels == chosen.labels[study]
        assert len(case.datasets) == 2
        assert {str(ds.StudyInstanceUID) for ds in case.datasets} == {study}


def test_a_study_gone_from_the_library_is_left_out(site):
    chosen = SiteSet({uid("old-normal"): {"R": 0, "L": 0}, "1.2.3.404": {"R": 1}})
    got = list(site_cases(site, chosen))
    assert [c.exam_id for c in got] == [uid("old-normal")]
