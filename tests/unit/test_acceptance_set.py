"""The shipped acceptance set: its recipe still draws the studies its
fingerprints describe, and a study that no longer matches stops the run with
one line naming it."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from engine.ai.acceptance.shipped_set import (
    AcceptanceSetError,
    Case,
    build_spec,
    cases,
    fingerprint,
    load_spec,
    positives_negatives,
)
from engine.phantom.presets import SizePreset

TINY = SizePreset(256, 208, 0.8)


@pytest.fixture(scope="module")
def tiny() -> dict:
    return build_spec(20261208, 2, 0.5, TINY, "tiny")


def test_the_shipped_set_has_48_studies_with_36_cancers_in_96_breasts():
    spec = load_spec()
    assert spec["name"] and len(spec["studies"]) == 48
    assert positives_negatives(spec) == (36, 60)
    size = spec["size"]
    assert (size["rows"], size["columns"]) == (1024, 832)
    for study in spec["studies"]:
        assert set(study["labels"]) == {"R", "L"}
        assert set(study["fingerprints"]) == {"RCC", "RMLO", "LCC", "LMLO"}
        assert all(len(f) == 64 for f in study["fingerprints"].values())


def test_the_first_shipped_study_still_renders_as_fingerprinted():
    spec = load_spec()
    first = spec["studies"][0]
    [case] = list(cases(dict(spec, studies=spec["studies"][:1])))
    assert case.exam_id == first["exam_id"]
    assert case.labels == first["labels"]
    assert len(case.datasets) == 4
    for ds in case.datasets:
        assert (ds.Rows, ds.Columns) == (1024, 832)


def test_a_built_set_renders_its_studies_with_their_labels(tiny):
    assert [s["index"] for s in tiny["studies"]] == [0, 1]
    got = list(cases(tiny))
    assert [type(c) for c in got] == [Case, Case]
    for case, study in zip(got, tiny["studies"], strict=True):
        assert case.exam_id == study["exam_id"]
        assert case.labels == study["labels"]
        assert set(case.labels.values()) <= {0, 1}
        assert len(case.datasets) == 4
        assert len({str(ds.StudyInstanceUID) for ds in case.datasets}) == 1
        for ds in case.datasets:
            assert (ds.Rows, ds.Columns) == (256, 208)
            view = ds.ImageLaterality + ds.ViewPosition
            assert fingerprint(ds.pixel_array) == study["fingerprints"][view]
    assert got[0].datasets[0].StudyInstanceUID != got[1].datasets[0].StudyInstanceUID


def test_a_set_is_built_the_same_every_time(tiny):
    assert build_spec(20261208, 2, 0.5, TINY, "tiny") == tiny
    other = build_spec(20261209, 2, 0.5, TINY, "tiny")
    assert other["studies"][0]["fingerprints"] != tiny["studies"][0]["fingerprints"]


def test_the_fingerprint_is_the_grid_of_block_means():
    pixels = np.zeros((16, 24), dtype=np.uint16)
    pixels[:2, :3] = 10  # the first block
    pixels[14:, 21:] = 7  # the last block
    pixels[0, 3] = 6  # one of the six pixels of the second block
    grid = fingerprint(pixels)
    assert len(grid) == 64
    assert grid[0] == 10.0 and grid[-1] == 7.0 and grid[1] == 1.0
    assert sum(grid) == pytest.approx(18.0)


def test_a_view_off_its_fingerprint_is_named(tiny):
    spec = copy.deepcopy(tiny)
    study = spec["studies"][1]
    study["fingerprints"]["LMLO"][27] += 5
    with pytest.raises(AcceptanceSetError) as err:
        list(cases(spec))
    message = str(err.value)
    assert "LMLO" in message and study["exam_id"] in message
    assert "\n" not in message


def test_differences_of_floating_point_are_allowed(tiny):
    spec = copy.deepcopy(tiny)
    for study in spec["studies"]:
        for grid in study["fingerprints"].values():
            grid[:] = [v + 0.5 for v in grid]
    assert len(list(cases(spec))) == 2


def test_a_study_with_another_label_is_refused(tiny):
    spec = copy.deepcopy(tiny)
    labels = spec["studies"][0]["labels"]
    labels["R"] = 1 - labels["R"]
    with pytest.raises(AcceptanceSetError, match=spec["studies"][0]["exam_id"]):
        list(cases(spec))


def test_the_first_study_is_given_before_a_later_one_fails(tiny):
    spec = copy.deepcopy(tiny)
    spec["studies"][1]["fingerprints"]["RCC"][0] -= 5
    run = cases(spec)
    assert next(run).exam_id == spec["studies"][0]["exam_id"]
    with pytest.raises(AcceptanceSetError, match="RCC"):
        next(run)


def test_a_set_file_is_read_and_checked(tmp_path, tiny):
    good = tmp_path / "set.json"
    good.write_text(json.dumps(tiny), encoding="utf-8")
    assert load_spec(good) == tiny
    bad = {
        "missing.json": None,
        "broken.json": "{not json",
        "other.json": json.dumps({"format": "something-else", "studies": [1]}),
        "empty.json": json.dumps(dict(tiny, studies=[])),
        "list.json": json.dumps([tiny]),
    }
    for name, text in bad.items():
        path = tmp_path / name
        if text is not None:
            path.write_text(text, encoding="utf-8")
        with pytest.raises(AcceptanceSetError, match="acceptance set"):
            load_spec(path)
