"""Which model is live: an accepted candidate goes live, anything else is
refused with its reason; rollback returns to the model live before (or the
built-in one); a pin holds one version until it is released; every step is
in the update log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.ai import activation, update_log
from engine.ai.activation import ActivationError
from engine.ai.package import active_package, active_record, install_package, read_package
from engine.ai.package_manifest import load_manifest, write_manifest
from tests.support.model_packages import make_package


def made(tmp: Path, version: str, name: str = "demo") -> Path:
    return make_package(tmp / "made" / f"{name}-{version}", name=name, version=version)


def candidate(root: Path, tmp: Path, version: str, name: str = "demo") -> Path:
    folder = root / activation.CANDIDATES / f"{name}-{version}"
    shutil.copytree(made(tmp, version, name), folder)
    return folder


def report(root: Path, folder: Path, accepted: bool, reason: str = "",
           digest: str | None = None) -> None:
    pkg = read_package(folder)
    activation.store_report(root, {
        "candidate": {"name": pkg.name, "version": pkg.version,
                      "manifest_sha256": digest or activation.manifest_digest(pkg)},
        "accepted": accepted, "reason": reason})


def events(root: Path) -> list[tuple[str, dict]]:
    return [(e.event, e.details) for e in update_log.entries(update_log.log_path(root))]


@pytest.fixture
def root(tmp_path):
    """demo 1.0.0 installed and live."""
    models = tmp_path / "models"
    install_package(made(tmp_path, "1.0.0"), models, actor="installer")
    return models


@pytest.fixture
def builtin(tmp_path):
    return make_package(tmp_path / "builtin", name="demo", version="0.9.0")


def test_a_candidate_without_a_report_is_refused(root, tmp_path):
    folder = candidate(root, tmp_path, "1.1.0")
    with pytest.raises(ActivationError, match="has not been through acceptance"):
        activation.activate_version(root, "1.1.0")
    assert active_record(root) == ("demo", "1.0.0")
    assert folder.is_dir() and not (root / "demo-1.1.0").exists()


def test_a_refused_candidate_is_refused_with_the_reason(root, tmp_path):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, False, "sensitivity 0.80, below the active model's 0.88")
    with pytest.raises(ActivationError) as err:
        activation.activate_version(root, "1.1.0")
    assert "refused by acceptance" in str(err.value)
    assert "sensitivity 0.80, below the active model's 0.88" in str(err.value)
    assert active_record(root) == ("demo", "1.0.0")


def test_a_report_for_other_contents_is_refused(root, tmp_path):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True, digest="0" * 64)
    with pytest.raises(ActivationError, match="other package contents"):
        activation.activate_version(root, "1.1.0")
    # A report accepted for the package, which was then changed.
    report(root, folder, True)
    (folder / "MODEL_CARD.md").write_text("# demo 1.1.0\n\nchanged\n")
    write_manifest(folder, load_manifest(folder))  # a consistent, different manifest
    with pytest.raises(ActivationError, match="other package contents"):
        activation.activate_version(root, "1.1.0")
    assert active_record(root) == ("demo", "1.0.0")


def test_an_unreadable_report_counts_as_none(root, tmp_path):
    folder = candidate(root, tmp_path, "1.1.0")
    path = activation.report_path(root, "demo", "1.1.0")
    path.parent.mkdir(parents=True)
    path.write_text("{broken")
    with pytest.raises(ActivationError, match="has not been through acceptance"):
        activation.activate_version(root, "1.1.0")
    assert folder.is_dir()


def test_an_accepted_candidate_goes_live(root, tmp_path):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True, "every check passed")
    live = activation.activate_version(root, "1.1.0", actor="Dr A")
    assert (live.name, live.version) == ("demo", "1.1.0")
    assert active_record(root) == ("demo", "1.1.0")
    assert active_package(root, None).version == "1.1.0"  # type: ignore[union-attr]
    assert not folder.exists()
    assert read_package(root / "demo-1.1.0").version == "1.1.0"
    assert activation.candidates(root) == []
    event, details = events(root)[-1]
    assert event == "activated"
    assert details["version"] == "1.1.0" and details["previous"] == "1.0.0"
    assert details["source"] == "candidate" and details["acceptance"] is True
    assert details["actor"] == "Dr A"
    assert update_log.verify(update_log.log_path(root)).ok


def test_an_unknown_version_is_refused(root):
    with pytest.raises(ActivationError, match=r"version 2\.0\.0"):
        activation.activate_version(root, "2.0.0")


def test_an_installed_version_goes_live_again_without_a_report(root, tmp_path):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    activation.activate_version(root, "1.1.0")
    live = activation.activate_version(root, "1.0.0", actor="Dr B")
    assert live.version == "1.0.0" and active_record(root) == ("demo", "1.0.0")
    event, details = events(root)[-1]
    assert (event, details["source"], details["previous"], details["actor"]) == (
        "activated", "installed", "1.1.0", "Dr B")


def test_rollback_returns_to_the_model_live_before(root, tmp_path, builtin):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    activation.activate_version(root, "1.1.0")
    live = activation.rollback(root, builtin, actor="Dr A")
    assert (live.name, live.version) == ("demo", "1.0.0")
    assert active_record(root) == ("demo", "1.0.0")
    assert (root / "demo-1.1.0").is_dir()  # still installed, may go live again
    event, details = events(root)[-1]
    assert event == "rolled_back"
    assert (details["version"], details["previous"], details["actor"]) == (
        "1.0.0", "1.1.0", "Dr A")


def test_rollback_from_the_first_installed_model_returns_to_the_builtin(root, builtin):
    live = activation.rollback(root, builtin, actor="Dr A")
    assert (live.name, live.version) == ("demo", "0.9.0")
    assert live.root == builtin
    assert not (root / "active.json").exists() and active_record(root) is None
    assert active_package(root, builtin).root == builtin  # type: ignore[union-attr]
    event, details = events(root)[-1]
    assert event == "rolled_back"
    assert details["builtin"] is True and details["previous"] == "1.0.0"
    assert details["actor"] == "Dr A"
    with pytest.raises(ActivationError, match="nothing to roll back"):
        activation.rollback(root, builtin)


def test_rollback_without_a_builtin_or_any_installed_model_is_refused(root, tmp_path):
    with pytest.raises(ActivationError, match="no earlier model"):
        activation.rollback(root, None)
    assert active_record(root) == ("demo", "1.0.0")
    empty = tmp_path / "empty"
    with pytest.raises(ActivationError):
        activation.rollback(empty, None)
    with pytest.raises(ActivationError):
        activation.rollback(empty, make_package(tmp_path / "b2", version="0.9.0"))


def test_rollback_to_a_damaged_previous_model_is_refused(root, tmp_path, builtin):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    activation.activate_version(root, "1.1.0")
    (root / "demo-1.0.0" / "model.keras").write_bytes(b"changed")
    with pytest.raises(ActivationError, match="no longer intact"):
        activation.rollback(root, builtin)
    assert active_record(root) == ("demo", "1.1.0")


def test_a_pin_holds_its_version(root, tmp_path, builtin):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    activation.activate_version(root, "1.1.0")
    live = activation.pin(root, "1.0.0", builtin, actor="Dr A")
    assert live.version == "1.0.0" and active_record(root) == ("demo", "1.0.0")
    assert activation.pinned(root) == {"name": "demo", "version": "1.0.0"}
    assert [e for e, _d in events(root)[-2:]] == ["activated", "pinned"]
    with pytest.raises(ActivationError, match="pinned"):
        activation.activate_version(root, "1.1.0")
    with pytest.raises(ActivationError, match="pinned"):
        activation.rollback(root, builtin)
    assert active_record(root) == ("demo", "1.0.0")
    # Activating the pinned version itself is no switch and is allowed.
    assert activation.activate_version(root, "1.0.0").version == "1.0.0"

    assert activation.unpin(root, actor="Dr B") == {"name": "demo", "version": "1.0.0"}
    assert activation.pinned(root) is None
    event, details = events(root)[-1]
    assert (event, details["version"], details["actor"]) == ("unpinned", "1.0.0", "Dr B")
    assert activation.unpin(root) is None
    assert activation.activate_version(root, "1.1.0").version == "1.1.0"


def test_pinning_the_live_version_switches_nothing(root, builtin):
    before = len(events(root))
    live = activation.pin(root, "1.0.0", builtin, actor="Dr A")
    assert live.version == "1.0.0"
    assert [e for e, _d in events(root)[before:]] == ["pinned"]


def test_a_second_pin_to_another_version_is_refused(root, tmp_path, builtin):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    activation.pin(root, "1.0.0", builtin)
    with pytest.raises(ActivationError, match="pinned"):
        activation.pin(root, "1.1.0", builtin)
    assert active_record(root) == ("demo", "1.0.0")
    assert folder.is_dir()


def test_an_unreadable_pin_still_blocks_switching(root, tmp_path, builtin):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    (root / activation.PIN).write_text("{not json")
    assert activation.pinned(root) is not None
    with pytest.raises(ActivationError, match="pinned"):
        activation.activate_version(root, "1.1.0")
    with pytest.raises(ActivationError, match="pinned"):
        activation.rollback(root, builtin)
    (root / activation.PIN).write_text('{"name": 1}')
    with pytest.raises(ActivationError, match="pinned"):
        activation.activate_version(root, "1.1.0")
    assert active_record(root) == ("demo", "1.0.0") and folder.is_dir()
    assert activation.unpin(root) is not None
    assert activation.activate_version(root, "1.1.0").version == "1.1.0"


def test_history_lists_the_switches_in_order(root, tmp_path, builtin):
    folder = candidate(root, tmp_path, "1.1.0")
    report(root, folder, True)
    activation.activate_version(root, "1.1.0")
    activation.rollback(root, builtin)
    activation.pin(root, "1.0.0", builtin)
    activation.unpin(root)
    update_log.append(update_log.log_path(root), "fetched", {"version": "1.2.0"})
    got = activation.history(root)
    assert [(h["event"], h["version"]) for h in got] == [
        ("activated", "1.0.0"), ("activated", "1.1.0"), ("rolled_back", "1.0.0"),
        ("pinned", "1.0.0"), ("unpinned", "1.0.0")]
    assert all(h["at"] for h in got)
    assert [h["at"] for h in got] == sorted(h["at"] for h in got)
    assert activation.history(tmp_path / "nothing") == []

