"""The screening audit against a small cohort whose every figure is worked out
by hand below: two readers, a false negative found on a later study of the
same woman, a biopsy recommended but never done, an exam whose follow-up year
is not over, a known cancer left out, an exam outside the period, and the AI
standalone at its operating point with two exams it has no score for."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from engine.library import import_paths
from engine.library.ai_results import add_result
from engine.library.outcomes import add_outcomes, audit_data, make_outcome
from engine.library.reads import Finding, Read, sign
from engine.reading.audit import audit
from engine.reading.audit_benchmarks import (
    BCSC_2017,
    OperatingPoint,
    acceptable,
    operating_point,
)
from engine.reading.audit_measures import Measures, follow_up_end
from tests.support.dicom_factory import mg_dataset

AS_OF = dt.date(2025, 6, 30)
MODEL = ("audit-test-model", "1.0.0")
POINT = OperatingPoint("specificity_90", 0.30)  # positive at exam score >= 30

NEGATIVE = {"birads": {"R": "1", "L": "1"}, "recommendation": "routine", "findings": []}
RECALL = {"birads": {"R": "0", "L": "1"}, "recommendation": "recall", "findings": []}
BIOPSY = {"birads": {"R": "4B", "L": "1"}, "recommendation": "biopsy",
          "findings": [Finding("R", "mass", descriptors=["oval"])]}
KNOWN = {"birads": {"R": "6", "L": "1"}, "recommendation": "known-cancer", "findings": []}

# name: (patient, study date, reader, read, reading time s, AI exam score or "none"/"null")
EXAMS = {
    "A1": ("P1", "20240110", "Dr A", BIOPSY, 60, 80.0),
    "A2": ("P2", "20240201", "Dr A", BIOPSY, 90, 10.0),
    "A3": ("P3", "20240215", "Dr A", RECALL, 30, 50.0),
    "A4": ("P4", "20240301", "Dr A", NEGATIVE, None, 35.0),
    "A5": ("P5", "20240305", "Dr A", NEGATIVE, 45, "none"),
    "A6": ("P6", "20240401", "Dr A", RECALL, 120, 20.0),
    "B1": ("P7", "20240105", "Dr B", BIOPSY, 100, 5.0),
    "B2": ("P8", "20240501", "Dr B", NEGATIVE, 20, 40.0),
    "B3": ("P9", "20240601", "Dr B", NEGATIVE, 40, "null"),
    "B4": ("P10", "20240630", "Dr B", NEGATIVE, None, 31.0),
    "K1": ("P12", "20240310", "Dr A", KNOWN, 50, 90.0),
    "C1": ("P11", "20240801", "Dr A", BIOPSY, 70, 90.0),
}
UNREAD = {"B3-later": ("P9", "20250301")}  # a later study of B3's patient, never read


def uid(name: str) -> str:
    return f"1.2.826.0.1.3680043.10.1234.{sum(ord(c) * 31 ** i for i, c in enumerate(name))}"


def build(library, folder: Path) -> None:
    folder.mkdir()
    studies = {n: (p, d) for n, (p, d, *_rest) in EXAMS.items()} | UNREAD
    for name, (patient, date) in studies.items():
        mg_dataset(StudyInstanceUID=uid(name), PatientID=patient, StudyDate=date,
                   PatientName=f"Synthetic^{patient}").save_as(
            folder / f"{name}.dcm", enforce_file_format=True)
    report = import_paths(library, [folder])
    assert not report.rejected
    for name, (_p, _d, reader, kind, seconds, score) in EXAMS.items():
        sign(library, uid(name), reader, Read(
            birads=dict(kind["birads"]), density={"R": "b", "L": "b"},
            findings=list(kind["findings"]), recommendation=kind["recommendation"],
            reading_time_s=seconds))
        if score != "none":
            add_result(library, uid(name), MODEL, "2024-07-01T10:00:00+00:00",
                       {"exam_score": None if score == "null" else score, "category": None})
    add_outcomes(library, [
        # A1: biopsy then surgery, invasive 8 then 9 mm, nodes negative: minimal.
        make_outcome(uid("A1"), "R", "malignant", "2024-01-20", "invasive ductal carcinoma",
                     "8", "negative", "biopsy"),
        make_outcome(uid("A1"), "R", "malignant", "2024-02-15", "invasive ductal carcinoma",
                     "9", "negative", "surgery"),
        make_outcome(uid("A2"), "R", "benign", "2024-02-10", "fibroadenoma", None, None,
                     "biopsy"),
        # A4: negative screen, cancer seven months later: a false negative.
        make_outcome(uid("A4"), "L", "malignant", "2024-10-01", "invasive lobular carcinoma",
                     "15", "positive"),
        make_outcome(uid("A6"), "R", "malignant", "2024-04-20", "DCIS"),
        # Recorded on B3's patient's later study, within B3's year: B3's false negative.
        make_outcome(uid("B3-later"), "L", "malignant", "2025-04-01", "invasive ductal"),
        make_outcome(uid("C1"), "R", "malignant", "2024-08-20", "invasive ductal", "12"),
    ])


@pytest.fixture
def data(library, tmp_path):
    build(library, tmp_path / "dicom")
    return audit_data(library, MODEL)


def run(data, **kw):
    return audit(data, start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30), as_of=AS_OF,
                 point=POINT, model=MODEL, **kw)


def test_site_figures_match_the_hand_count(data):
    report = run(data)
    m = report.site.measures
    # Exams in the period: A1-A6, B1-B4 (K1 is BI-RADS 6, C1 is in August).
    assert m.exams == 10
    # Positive screens: A1, A2, B1 (4B), A3, A6 (0).
    assert m.recalls == 5 and m.recall_rate == pytest.approx(5 / 10)
    # Cancers after a positive screen: A1, A6.  After a negative one: A4, B3.
    assert m.cancers == 2 and m.false_negatives == 2
    assert m.cancer_detection_rate_per_1000 == pytest.approx(1000 * 2 / 10)
    assert m.ppv1 == pytest.approx(2 / 5)
    # Biopsy recommended: A1, A2, B1; done (an outcome): A1, A2; cancer: A1.
    assert (m.biopsy_recommended, m.biopsies) == (3, 2)
    assert m.ppv2 == pytest.approx(1 / 3)
    assert m.ppv3 == pytest.approx(1 / 2)
    # Follow-up over (before 2025-06-30): all but B4 (its year ends that day).
    # False positives: A2, A3, B1; true negatives: A5, B2.
    assert (m.false_positives, m.true_negatives, m.follow_up_pending) == (3, 2, 1)
    assert m.sensitivity == pytest.approx(2 / 4)
    assert m.specificity == pytest.approx(2 / 5)
    # A1 invasive <= 10 mm (largest 9), node-negative; A6 DCIS: minimal, nodes not counted.
    assert m.minimal_cancer_fraction == pytest.approx(1.0)
    assert m.node_negative_fraction == pytest.approx(1.0)
    # Times 60 90 30 45 120 100 20 40 (A4, B4 none): median (45 + 60) / 2.
    assert m.median_reading_time_s == pytest.approx(52.5)
    assert report.excluded == {"undated": 0, "known_cancer": 1, "outcomes_unattributed": 0}


def test_each_reader_has_their_own_figures(data):
    readers = run(data).readers
    assert sorted(readers) == ["Dr A", "Dr B"]
    a, b = readers["Dr A"].measures, readers["Dr B"].measures
    assert (a.exams, a.recalls, a.cancers, a.false_negatives) == (6, 4, 2, 1)
    assert a.recall_rate == pytest.approx(4 / 6)
    assert a.cancer_detection_rate_per_1000 == pytest.approx(2000 / 6)
    assert (a.ppv1, a.ppv2, a.ppv3) == pytest.approx((2 / 4, 1 / 2, 1 / 2))
    assert (a.sensitivity, a.specificity) == pytest.approx((2 / 3, 1 / 3))
    assert a.median_reading_time_s == pytest.approx(60.0)
    # Dr B: B1 recommended a biopsy that was never done (PPV3 has no denominator).
    assert (b.exams, b.recalls, b.cancers, b.false_negatives) == (4, 1, 0, 1)
    assert (b.recall_rate, b.cancer_detection_rate_per_1000, b.ppv1) == pytest.approx(
        (1 / 4, 0.0, 0.0))
    assert (b.biopsy_recommended, b.biopsies, b.ppv2, b.ppv3) == (1, 0, 0.0, None)
    assert (b.sensitivity, b.specificity, b.follow_up_pending) == (0.0, 0.5, 1)
    assert b.minimal_cancer_fraction is None and b.node_negative_fraction is None
    assert b.median_reading_time_s == pytest.approx(40.0)


def test_one_reader_is_chosen_by_name_in_any_case(data):
    report = run(data, reader="dr  b")
    assert list(report.readers) == ["Dr B"]
    assert report.site.measures.exams == 10


def test_the_ai_standalone_at_its_operating_point(data):
    ai = run(data).site.ai
    # No score for A5 (no result) and B3 (a result without a score).
    assert ai.exams_without_result == 2
    m = ai.measures
    assert m is not None
    # Scored: A1 80, A2 10, A3 50, A4 35, A6 20, B1 5, B2 40, B4 31; >= 30 is positive.
    assert (m.exams, m.recalls) == (8, 5)
    assert m.recall_rate == pytest.approx(5 / 8)
    assert (m.cancers, m.false_negatives) == (2, 1)  # A1, A4 found; A6 missed
    assert m.cancer_detection_rate_per_1000 == pytest.approx(2000 / 8)
    assert m.ppv1 == pytest.approx(2 / 5)
    assert (m.false_positives, m.true_negatives, m.follow_up_pending) == (2, 2, 1)
    assert (m.sensitivity, m.specificity) == pytest.approx((2 / 3, 2 / 4))
    assert (m.minimal_cancer_fraction, m.node_negative_fraction) == pytest.approx((0.5, 0.5))
    assert (m.ppv2, m.ppv3, m.median_reading_time_s) == (None, None, None)
    doc = run(data).as_dict()["site"]["ai"]
    assert "not for clinical use" in doc["notice"]
    assert doc["operating_point"]["exam_score"] == pytest.approx(30.0)


def test_a_period_filter_keeps_only_its_exams(data):
    report = audit(data, start=dt.date(2024, 4, 1), end=dt.date(2024, 6, 30), as_of=AS_OF,
                   point=POINT)
    m = report.site.measures
    # A6 (recall, DCIS), B2, B3 (false negative), B4 (pending).
    assert (m.exams, m.recalls, m.cancers, m.false_negatives) == (4, 1, 1, 1)
    assert (m.ppv1, m.sensitivity) == pytest.approx((1.0, 0.5))
    assert m.specificity == pytest.approx(1.0)  # B2 the only exam with a year over
    assert (m.ppv2, m.ppv3) == (None, None)  # no biopsy recommended in the period
    everything = audit(data, as_of=AS_OF, point=POINT).site.measures
    assert everything.exams == 11 and everything.cancers == 3  # with C1


def test_an_exam_still_in_its_year_counts_for_specificity_once_it_is_over(data):
    before = run(data).site.measures
    after = audit(data, start=dt.date(2024, 1, 1), end=dt.date(2024, 6, 30),
                  as_of=dt.date(2025, 7, 1), point=POINT).site.measures
    assert (before.true_negatives, after.true_negatives) == (2, 3)
    assert after.follow_up_pending == 0


def test_empty_denominators_are_none(library):
    report = audit(audit_data(library, None), as_of=AS_OF)
    m = report.site.measures
    assert m.exams == 0
    for value in (m.recall_rate, m.cancer_detection_rate_per_1000, m.ppv1, m.ppv2, m.ppv3,
                  m.sensitivity, m.specificity, m.median_reading_time_s):
        assert value is None
    assert report.site.ai.measures is None and report.site.ai.reason
    assert report.readers == {}


def test_follow_up_year_and_operating_point():
    assert follow_up_end(dt.date(2024, 2, 29)) == dt.date(2025, 2, 28)
    assert follow_up_end(dt.date(2024, 3, 1)) == dt.date(2025, 3, 1)
    assert operating_point({"marks": 0.6, "specificity_90": 0.3}) == OperatingPoint(
        "specificity_90", 0.3)
    assert operating_point({"recall": 0.2, "specificity_90": 0.3}).name == "recall"
    assert operating_point({"marks": 0.6}) is None


def test_benchmarks_and_acceptable_ranges():
    assert BCSC_2017["values"]["recall_rate"] == 0.116
    assert BCSC_2017["values"]["cancer_detection_rate_per_1000"] == 5.1
    base = dict.fromkeys(Measures.__dataclass_fields__, 0)
    good = Measures(**base | {"sensitivity": 0.85, "specificity": 0.9, "recall_rate": 0.10,
                              "cancer_detection_rate_per_1000": 5.0, "ppv1": 0.05})
    assert acceptable(good) == {"sensitivity_specificity": True, "cdr_recall_ppv1": True}
    poor = Measures(**base | {"sensitivity": 0.70, "specificity": 0.9, "recall_rate": 0.25,
                              "cancer_detection_rate_per_1000": 5.0, "ppv1": 0.05})
    assert acceptable(poor) == {"sensitivity_specificity": False, "cdr_recall_ppv1": False}
    unknown = Measures(**base | {"sensitivity": None, "specificity": None, "recall_rate": None,
                                 "cancer_detection_rate_per_1000": None, "ppv1": None})
    assert acceptable(unknown) == {"sensitivity_specificity": None, "cdr_recall_ppv1": None}
