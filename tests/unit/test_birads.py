"""The BI-RADS 5th edition rules a read must pass to be signed."""

from __future__ import annotations

import pytest

from engine.library.reads import Finding, Read
from engine.reading import birads
from engine.reading.birads import overall, signoff_problems


def read(right: str | None, left: str | None, rec: str | None, *findings: Finding,
         density: str | None = "b") -> Read:
    return Read(birads={"R": right, "L": left}, density={"R": density, "L": density},
                findings=list(findings), recommendation=rec)


MASS_R, MASS_L = Finding("R", "mass"), Finding("L", "mass")


def test_a_consistent_negative_read_may_be_signed():
    assert signoff_problems(read("1", "1", "routine")) == []
    assert read("1", "1", "routine").signoff_problems() == []


def test_missing_assessment_density_and_recommendation_are_all_listed():
    problems = signoff_problems(read(None, "2", None, density=None))
    assert problems == [
        "no BI-RADS assessment for the right breast",
        "no breast composition (density) for the right breast",
        "no breast composition (density) for the left breast",
        "no management recommendation",
    ]


def test_category_0_needs_a_recall():
    assert signoff_problems(read("0", "1", "recall")) == []
    for rec in ("routine", "short-interval", "biopsy"):
        (problem,) = signoff_problems(read("0", "1", rec))
        assert "does not agree with the overall assessment BI-RADS 0" in problem
        assert "recall for additional imaging" in problem


@pytest.mark.parametrize("category,rec", [
    ("3", "short-interval"), ("4A", "biopsy"), ("4B", "biopsy"), ("4C", "biopsy"),
    ("5", "biopsy"),
])
def test_3_4_and_5_need_a_finding_on_that_side(category, rec):
    (problem,) = signoff_problems(read(category, "1", rec))
    assert problem == (f"BI-RADS {category} for the right breast needs at least one finding "
                       "on that side")
    assert signoff_problems(read("1", category, rec, MASS_R)) != []  # the wrong side
    assert signoff_problems(read(category, "1", rec, MASS_R)) == []
    assert signoff_problems(read("2", category, rec, MASS_L)) == []


def test_1_allows_no_finding_on_that_side_and_2_allows_some():
    (problem,) = signoff_problems(read("1", "1", "routine", MASS_L))
    assert problem.startswith("BI-RADS 1 (negative) for the left breast allows no finding")
    assert signoff_problems(read("2", "1", "routine", MASS_R)) == []
    assert signoff_problems(read("2", "2", "routine")) == []


@pytest.mark.parametrize("right,left,total", [
    ("1", "2", "2"), ("2", "3", "3"), ("3", "6", "6"), ("6", "0", "0"), ("0", "4A", "4A"),
    ("4A", "4B", "4B"), ("4C", "4B", "4C"), ("4C", "5", "5"), ("1", "5", "5"), ("0", "6", "0"),
    ("4", "4A", "4"), ("4", "4B", "4B"),
])
def test_overall_is_the_worse_breast_in_the_atlas_order(right, left, total):
    assert overall({"R": right, "L": left}) == total
    assert overall({"R": left, "L": right}) == total


def test_overall_needs_both_breasts():
    assert overall({"R": "1", "L": None}) is None
    assert overall({"R": "1", "L": "9"}) is None


@pytest.mark.parametrize("right,left,good,bad", [
    ("1", "1", "routine", "recall"),
    ("2", "1", "routine", "short-interval"),
    ("3", "2", "short-interval", "routine"),
    ("0", "3", "recall", "short-interval"),  # 0 is worse than 3
    ("4A", "0", "biopsy", "recall"),  # 4 is worse than 0
    ("5", "4B", "biopsy", "routine"),
    ("6", "2", "known-cancer", "biopsy"),
    ("6", "1", "excision", "routine"),
])
def test_the_recommendation_must_agree_with_the_overall_assessment(right, left, good, bad):
    findings = [Finding(side, "mass") for side, c in (("R", right), ("L", left))
                if c in birads.NEEDS_FINDING]
    assert signoff_problems(read(right, left, good, *findings)) == []
    (problem,) = signoff_problems(read(right, left, bad, *findings))
    total = overall({"R": right, "L": left})
    assert f"does not agree with the overall assessment BI-RADS {total}" in problem


def test_every_assessment_has_its_management_and_order():
    assert set(birads.MANAGEMENT) == set(birads.ALL_ASSESSMENTS) == set(birads.SEVERITY)
    assert all(r in birads.RECOMMENDATIONS for m in birads.MANAGEMENT.values() for r in m)
    assert "4" not in birads.ASSESSMENTS  # never offered for a new read
    assert birads.BIOPSY_RECOMMENDED <= birads.POSITIVE_AT_SCREENING
    assert "6" not in birads.POSITIVE_AT_SCREENING and "0" in birads.POSITIVE_AT_SCREENING


def test_a_legacy_read_with_integer_categories_loads_as_strings():
    old = Read.from_json('{"birads": {"R": 1, "L": 4}, "density": {"R": "c", "L": "c"}, '
                         '"findings": [{"side": "L", "kind": "mass", "location": "2 o\'clock", '
                         '"size_mm": 9.0, "note": "spiculated"}], "impression": "x"}')
    assert old.birads == {"R": "1", "L": "4"} and old.overall == "4"
    assert old.findings[0].location == "2 o'clock" and old.findings[0].descriptors == []
    assert old.recommendation is None and old.problems() == []
    # Signing it now takes a recommendation and a 5th-edition subdivision of the 4.
    assert old.signoff_problems() == [
        "no management recommendation",
        "BI-RADS 4 for the left breast is not subdivided: choose 4A, 4B or 4C",
    ]
    old.recommendation, old.birads["L"] = "biopsy", "4C"
    assert old.signoff_problems() == []


def test_bad_descriptors_clock_and_depth_are_refused_before_saving():
    assert "not a BI-RADS descriptor of mass" in Finding("R", "mass", descriptors=["fine-linear"]
                                                         ).problems()[0]
    assert "clock-face position" in Finding("R", "mass", clock="13:00").problems()[0]
    assert "depth" in Finding("R", "mass", depth="deep").problems()[0]
    assert "point" in Finding("R", "mass", point={"sop_uid": "1.2", "x": "3"}).problems()[0]
    assert Finding("R", "mass", clock="axillary tail", depth="anterior",
                   point={"sop_uid": "1.2", "x": 3, "y": 4.5}).problems() == []
