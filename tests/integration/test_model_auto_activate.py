"""After a check: a candidate that passed acceptance goes live by itself only
with models.auto_activate=yes and no pin; a refused one never does; a
verdict already kept for exactly that package is not worked out again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.ai import activation, update_log
from engine.ai.package import active_record, install_package, read_package
from engine.paths import app_paths
from sync.model_updates import cycle
from tests.support.model_packages import make_package


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """demo 1.0.0 live, demo 1.1.0 waiting as a candidate."""
    home = tmp_path / "home"
    models = home / "models"
    install_package(make_package(tmp_path / "v1", "demo", "1.0.0"), models)
    shutil.copytree(make_package(tmp_path / "v2", "demo", "1.1.0"),
                    models / activation.CANDIDATES / "demo-1.1.0")
    return home


def verdict(home: Path, accepted: bool) -> None:
    models = home / "models"
    pkg = read_package(models / activation.CANDIDATES / "demo-1.1.0")
    activation.store_report(models, {
        "candidate": {"name": "demo", "version": "1.1.0",
                      "manifest_sha256": activation.manifest_digest(pkg)},
        "accepted": accepted, "reason": "accepted: test" if accepted else "refused: test",
        "checks": []})


def run(home: Path, auto: str) -> cycle.CheckOutcome:
    return cycle.accept_newest(app_paths(home), {"models.auto_activate": auto}, "demo",
                               "up to date")


def test_auto_activate_makes_an_accepted_candidate_live(home: Path) -> None:
    verdict(home, True)
    outcome = run(home, "yes")
    assert outcome.activated and outcome.active == "1.1.0" and outcome.candidate is None
    assert active_record(home / "models") == ("demo", "1.1.0")
    last = update_log.entries(update_log.log_path(home / "models"))[-1]
    assert last.event == "activated" and "auto_activate" in last.details["actor"]


@pytest.mark.parametrize("auto", ["no", ""])
def test_without_auto_activate_it_waits(home: Path, auto: str) -> None:
    verdict(home, True)
    outcome = run(home, auto)
    assert not outcome.activated and outcome.candidate == "1.1.0" and outcome.accepted
    assert "waiting for activation" in outcome.reason
    assert active_record(home / "models") == ("demo", "1.0.0")


def test_a_pin_holds_even_with_auto_activate(home: Path) -> None:
    verdict(home, True)
    activation.pin(home / "models", "1.0.0", None)
    outcome = run(home, "yes")
    assert not outcome.activated and "pinned" in outcome.reason
    assert active_record(home / "models") == ("demo", "1.0.0")


def test_a_refused_candidate_never_goes_live(home: Path) -> None:
    verdict(home, False)
    outcome = run(home, "yes")
    assert not outcome.activated and outcome.accepted is False
    assert active_record(home / "models") == ("demo", "1.0.0")


def test_a_candidate_without_a_verdict_is_run_and_the_failure_kept(home: Path) -> None:
    # Dummy network files cannot be loaded: acceptance says so and refuses.
    outcome = run(home, "yes")
    assert outcome.accepted is False and "could not run" in outcome.reason
    assert not outcome.activated and active_record(home / "models") == ("demo", "1.0.0")
    kept = activation.read_report(home / "models", "demo", "1.1.0")
    assert kept is not None and kept["accepted"] is False
    events = [e.event for e in update_log.entries(update_log.log_path(home / "models"))]
    assert events[-1] == "refused"
    run(home, "yes")  # the kept verdict is used, not worked out again
    assert [e.event for e in update_log.entries(
        update_log.log_path(home / "models"))].count("refused") == 1
