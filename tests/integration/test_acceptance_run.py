"""An acceptance run with the site's own cases: when the library has at least
20 positive and 20 negative breasts with known truth, the candidate is
compared with the live model on them too, and the report says so.

The shipped model plays both parts; a smaller phantom set (20 women, each
with one cancer) stands in for the shipped set and the site's breasts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.ai.acceptance import site_set
from engine.ai.acceptance.run import declared_metrics, run_acceptance
from engine.ai.acceptance.shipped_set import Case, build_spec, cases
from engine.ai.package import read_package, write_manifest
from engine.phantom.presets import SizePreset
from engine.resources import builtin_model_dir
from tests.support.cloud import shipped_model_copy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_set() -> dict[str, Any]:
    return build_spec(7, 20, 1.0, SizePreset(1024, 832, 0.2), "small-test-set")


def test_site_cases_are_used_when_there_are_enough(small_set, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    live = read_package(builtin_model_dir())
    folder = shipped_model_copy(tmp_path / "candidate", "9.0.0")
    candidate = read_package(folder)
    manifest = dict(candidate.manifest)
    manifest["metrics"] = dict(manifest["metrics"]) | {
        "acceptance": declared_metrics(candidate, small_set)}
    write_manifest(folder, manifest)
    candidate = read_package(folder)

    labels = {s["exam_id"]: s["labels"] for s in small_set["studies"]}
    assert sum(v for sides in labels.values() for v in sides.values()) == 20

    def site_cases(library: object, chosen: site_set.SiteSet) -> Iterator[Case]:
        assert set(chosen.labels) == set(labels)
        yield from cases(small_set)

    monkeypatch.setattr(site_set, "site_set", lambda library: site_set.SiteSet(labels))
    monkeypatch.setattr(site_set, "site_cases", site_cases)
    report = run_acceptance(candidate, live, library=object(),  # type: ignore[arg-type]
                            spec=small_set)
    assert report["accepted"] is True, report["reason"]
    site = report["sets"]["site"]
    assert site["used"] is True and (site["positives"], site["negatives"]) == (20, 20)
    assert site["auc_difference"] == 0.0
    on_site = {c["name"]: c["passed"] for c in report["checks"] if c["set"] == "site"}
    assert on_site == {"auc_non_inferior": True, "sensitivity_not_lower": True}
    assert report["sets"]["shipped"]["name"] == "small-test-set"

    # Too few: the site's cases are left out, and the report says why.
    few = {k: labels[k] for k in list(labels)[:5]}
    monkeypatch.setattr(site_set, "site_set", lambda library: site_set.SiteSet(few))
    report = run_acceptance(candidate, live, library=object(),  # type: ignore[arg-type]
                            spec={**small_set, "studies": small_set["studies"][:6]})
    site_check = [c for c in report["checks"] if c["set"] == "site"]
    assert [c["passed"] for c in site_check] == [None]
    assert "5 positive and 5 negative" in site_check[0]["detail"]
    assert report["sets"]["site"]["used"] is False
