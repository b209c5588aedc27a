"""The whole model update cycle against the reference cloud (nginx TLS serving
the TUF model repository), through the command line as IT and a clinic use it:
train a small model, declare it, publish it, check (refused by acceptance),
publish a sound model, check (accepted), activate, analyse, roll back.

Acceptance runs the shipped acceptance set for real (48 phantom studies, two
models, TensorFlow against ONNX Runtime): about a minute each time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.ai import update_log
from engine.phantom import generate_cohort
from tests.support.cli import run_cli
from tests.support.cloud import LocalCloud, missing_software, shipped_model_copy

pytestmark = pytest.mark.slow

SHIPPED_VERSION = "1.1.0"
TRAIN_ARGS = ("--epochs", "1", "--steps", "3", "--batch", "2", "--val-fraction", "0.4",
              "--workers", "1")


@pytest.fixture(scope="module")
def own_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A cloud of this module's own, so no other test's packages are in its repository."""
    reason = missing_software()
    if reason:
        pytest.fail(reason, pytrace=False)
    cloud = LocalCloud.start(tmp_path_factory.mktemp("cycle-cloud"))
    try:
        yield cloud
    finally:
        cloud.stop()


def cli(home: Path, *args: str, timeout: float = 600) -> Any:
    return run_cli(*args, home=home, timeout=timeout)


def check(home: Path) -> dict[str, Any]:
    done = cli(home, "models", "check", "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def live(home: Path) -> dict[str, Any]:
    done = cli(home, "models", "list", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def failed_checks(report: dict[str, Any]) -> set[str]:
    return {c["name"] for c in report["checks"] if c["passed"] is False}


def test_train_publish_refuse_accept_activate_analyse_roll_back(own_cloud: LocalCloud,
                                                                 tmp_path: Path) -> None:
    home = tmp_path / "home"
    for key, value in (("models.url", own_cloud.models_url),
                       ("models.root", own_cloud.models_root),
                       ("cloud.ca_bundle", own_cloud.ca)):
        assert cli(home, "config", "set", key, value).returncode == 0

    # The cloud publishes the shipped model: nothing newer than what ships.
    doc = check(home)
    assert doc["active"] == SHIPPED_VERSION and doc["candidate"] is None

    # A model trained for three steps: published, fetched, refused by acceptance.
    cohort = generate_cohort(tmp_path / "cohort", 8, seed=4, cancer_rate=0.5, size="small")
    work = tmp_path / "train"
    done = cli(home, "train", str(cohort.labels_csv), "--out", str(work), "--name",
               "mammodesk-phantom", "--version", "1.2.0", *TRAIN_ARGS, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    done = cli(home, "models", "declare", str(work / "package"))
    assert done.returncode == 0, done.stderr[-2000:]
    own_cloud.publish_model(work / "package")
    doc = check(home)
    assert doc["candidate"] == "1.2.0" and doc["accepted"] is False, doc["reason"]
    assert doc["active"] == SHIPPED_VERSION
    # It barely learned: the shipped set shows it, and its own declaration is honest.
    assert "auc_non_inferior" in failed_checks(doc["report"])
    assert "declared_metrics" not in failed_checks(doc["report"])
    refused = cli(home, "models", "activate", "1.2.0")
    assert refused.returncode == 2 and "refused by acceptance" in refused.stderr
    assert live(home)["active"]["version"] == SHIPPED_VERSION

    # A sound model (the shipped network under a new version): accepted, activated.
    sound = shipped_model_copy(tmp_path / "sound", "1.3.0")
    own_cloud.publish_model(sound)
    doc = check(home)
    assert doc["candidate"] == "1.3.0" and doc["accepted"] is True, doc["reason"]
    assert not failed_checks(doc["report"])
    passed = {c["name"] for c in doc["report"]["checks"] if c["passed"] is True}
    assert {"auc_non_inferior", "sensitivity_not_lower", "declared_metrics",
            "backends_agree"} <= passed
    assert doc["active"] == SHIPPED_VERSION  # models.auto_activate is off by default
    done = cli(home, "models", "activate", "1.3.0")
    assert done.returncode == 0, done.stderr
    assert live(home)["active"]["version"] == "1.3.0"

    # Results record the model that made them.
    study = cohort.out_dir / sorted(p.name for p in cohort.out_dir.iterdir() if p.is_dir())[0]
    done = cli(home, "analyze", str(study), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["model_version"] == "1.3.0"

    # Roll back: the built-in model is live again; the log tells the whole story.
    done = cli(home, "models", "rollback")
    assert done.returncode == 0, done.stderr
    assert live(home)["active"]["version"] == SHIPPED_VERSION
    log = update_log.log_path(home / "models")
    assert update_log.verify(log).ok
    events = [(e.event, e.details.get("version")) for e in update_log.entries(log)]
    for step in (("fetched", "1.2.0"), ("verified", "1.2.0"), ("refused", "1.2.0"),
                 ("fetched", "1.3.0"), ("accepted", "1.3.0"), ("activated", "1.3.0"),
                 ("rolled_back", SHIPPED_VERSION)):
        assert step in events, step
    assert events.index(("refused", "1.2.0")) < events.index(("activated", "1.3.0")) \
        < events.index(("rolled_back", SHIPPED_VERSION))
