"""The Models dialog over a models folder of small verified packages: an
accepted update can be activated and rolled back, a refused one cannot, a pin
blocks switches with its one line, Check now runs in a process of its own
and shows its progress and its answer or its one-line error, and the main
window's status bar names an update that waits."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from engine.ai import activation
from engine.ai.package import active_package, install_package, read_package
from engine.resources import builtin_model_dir
from tests.support import model_update_children as children
from tests.support.model_packages import make_package

CHECKS = [
    {"name": "shipped cancers found", "set": "shipped", "passed": True,
     "detail": "sensitivity 0.90, at least the active model's 0.88"},
    {"name": "site agreement", "set": "site", "passed": False,
     "detail": "agrees with the active model on 81% of site exams (needs 90%)"},
    {"name": "package card", "set": "package", "passed": None, "detail": "not run"},
]


def store(models: Path, name: str, version: str, accepted: bool, reason: str) -> None:
    """Keep an acceptance report for the candidate models/.candidates/NAME-VERSION."""
    pkg = read_package(models / activation.CANDIDATES / f"{name}-{version}")
    activation.store_report(models, {
        "format": "mammodesk-acceptance-report", "made": "2026-01-02T03:04:05Z",
        "candidate": {"name": name, "version": version,
                      "manifest_sha256": activation.manifest_digest(pkg)},
        "active": {"name": "demo", "version": "1.0.0"}, "accepted": accepted,
        "reason": reason, "checks": CHECKS if not accepted else CHECKS[:1], "sets": {},
        "seconds": 41.5, "notice": "synthetic-trained model, not for clinical use"})


def add_candidate(models: Path, tmp: Path, version: str, accepted: bool | None,
                  reason: str = "") -> None:
    folder = make_package(tmp / "made" / version, version=version)
    shutil.copytree(folder, models / activation.CANDIDATES / f"demo-{version}")
    if accepted is not None:
        store(models, "demo", version, accepted, reason)


@pytest.fixture
def models(ctx, tmp_path):
    """demo 1.0.0 installed and live; demo 1.1.0 waiting, accepted."""
    root = ctx.paths.models
    install_package(make_package(tmp_path / "made" / "1.0.0"), root)
    add_candidate(root, tmp_path, "1.1.0", True, "every check passed")
    return root


def live(models: Path) -> str:
    pkg = active_package(models, builtin_model_dir())
    return pkg.describe() if pkg else ""


def opened(qtbot, ctx):
    from ui.models_dialog import ModelsDialog

    d = ModelsDialog(ctx)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitUntil(lambda: d.state is not None, timeout=10000)
    return d


def rows(table) -> list[list[str]]:
    return [[table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())]


def select(d, kind: str, version: str) -> None:
    d.versions.selectRow(next(i for i, r in enumerate(rows(d.versions))
                              if r[2] == kind and r[1] == version))


def settled(qtbot, d) -> None:
    qtbot.waitUntil(lambda: not d.busy and d.ctx.ops.pending == 0, timeout=20000)


@pytest.fixture
def yes(monkeypatch):
    """Answer every confirmation with yes, and count them."""
    import ui.models_dialog

    asked: list[str] = []
    monkeypatch.setattr(ui.models_dialog, "confirm",
                        lambda _parent, title, _text: asked.append(title) or True)
    return asked


def test_the_dialog_shows_the_live_model_the_channel_and_the_accepted_update(
        qtbot, ctx, models):
    ctx.settings.update({"models.url": "https://models.example.org/repo/",
                         "models.channel": "pilot"})
    d = opened(qtbot, ctx)
    assert d.live.text() == ("Live model: demo 1.0.0 (installed, not pinned) — "
                             "synthetic-trained model, not for clinical use")
    assert d.source.text() == ("Updates: channel pilot, repository "
                               "https://models.example.org/repo/")
    shipped = read_package(builtin_model_dir())
    assert rows(d.versions) == [
        ["demo", "1.1.0", "update (not live)", "accepted"],
        ["demo", "1.0.0", "installed", "live"],
        [shipped.name, shipped.version, "built-in", ""]]
    assert d.selected().version == "1.1.0"  # the update is what the dialog opens on
    assert d.report.text().startswith("Accepted by acceptance: every check passed")
    assert "not for clinical use" in d.report.text()
    assert rows(d.checks) == [["shipped cancers found", "shipped", "passed",
                               "sensitivity 0.90, at least the active model's 0.88"]]
    assert d.activate_button.isEnabled() and d.rollback_button.isEnabled()
    select(d, "installed", "1.0.0")  # the live one: nothing to activate
    assert not d.activate_button.isEnabled()
    assert [r[1:4] for r in rows(d.history)] == [["activated", "demo", "1.0.0"]]


def test_activate_makes_the_accepted_update_live_and_roll_back_returns(
        qtbot, ctx, models, yes):
    d = opened(qtbot, ctx)
    qtbot.mouseClick(d.activate_button, Qt.MouseButton.LeftButton)
    settled(qtbot, d)
    assert yes == ["Activate a model"]
    assert live(models) == "demo 1.1.0"
    assert d.message.text().startswith("demo 1.1.0 is now the live model")
    assert d.error.text() == ""
    assert d.live.text().startswith("Live model: demo 1.1.0 (installed, not pinned)")
    assert ["demo", "1.1.0", "installed", "live"] in rows(d.versions)
    assert not any(r[2] == "update (not live)" for r in rows(d.versions))
    newest = rows(d.history)[0]
    assert newest[1:5] == ["activated", "demo", "1.1.0", "1.0.0"]

    qtbot.mouseClick(d.rollback_button, Qt.MouseButton.LeftButton)
    settled(qtbot, d)
    assert yes == ["Activate a model", "Roll back the model"]
    assert live(models) == "demo 1.0.0"
    assert d.message.text().startswith("rolled back: demo 1.0.0 is live again")
    assert rows(d.history)[0][1:5] == ["rolled back", "demo", "1.0.0", "1.1.0"]
    # The version rolled back from stays installed, and may be made live again.
    select(d, "installed", "1.1.0")
    assert d.activate_button.isEnabled()


def test_saying_no_changes_nothing(qtbot, ctx, models, monkeypatch):
    import ui.models_dialog

    monkeypatch.setattr(ui.models_dialog, "confirm", lambda *_args: False)
    d = opened(qtbot, ctx)
    d.activate_button.click()
    d.rollback_button.click()
    settled(qtbot, d)
    assert live(models) == "demo 1.0.0" and len(rows(d.history)) == 1


def test_a_refused_update_cannot_be_activated_and_shows_why(qtbot, ctx, models, tmp_path):
    add_candidate(models, tmp_path, "1.2.0", False, "disagrees with the live model at the site")
    add_candidate(models, tmp_path, "1.3.0", None)
    d = opened(qtbot, ctx)
    assert [r[1:] for r in rows(d.versions)[:3]] == [
        ["1.3.0", "update (not live)", "not checked yet"],
        ["1.2.0", "update (not live)", "refused by acceptance"],
        ["1.1.0", "update (not live)", "accepted"]]
    select(d, "update (not live)", "1.2.0")
    assert not d.activate_button.isEnabled()
    assert d.report.text().startswith(
        "Refused by acceptance: disagrees with the live model at the site")
    assert [r[2] for r in rows(d.checks)] == ["passed", "failed", "not run"]
    assert rows(d.checks)[1][3] == "agrees with the active model on 81% of site exams (needs 90%)"
    select(d, "update (not live)", "1.3.0")
    assert not d.activate_button.isEnabled()
    assert d.report.text() == "No acceptance report for demo 1.3.0; Check now runs it."
    assert rows(d.checks) == []


def test_a_pin_blocks_activate_with_its_one_line_until_unpinned(qtbot, ctx, models, yes):
    d = opened(qtbot, ctx)
    qtbot.mouseClick(d.pin_button, Qt.MouseButton.LeftButton)
    settled(qtbot, d)
    assert d.live.text().startswith("Live model: demo 1.0.0 (installed, pinned to demo 1.0.0)")
    assert d.pin_button.text() == "&Unpin"
    select(d, "update (not live)", "1.1.0")
    d.activate_button.click()
    settled(qtbot, d)
    assert d.error.text() == "the model is pinned to demo 1.0.0; `models unpin` first"
    assert live(models) == "demo 1.0.0"
    d.rollback_button.click()
    settled(qtbot, d)
    assert d.error.text() == "the model is pinned to demo 1.0.0; `models unpin` first"
    assert live(models) == "demo 1.0.0"
    qtbot.mouseClick(d.pin_button, Qt.MouseButton.LeftButton)
    settled(qtbot, d)
    assert d.pin_button.text() == "&Pin" and d.error.text() == ""
    assert [r[1] for r in rows(d.history)[:2]] == ["unpinned", "pinned"]
    select(d, "update (not live)", "1.1.0")
    d.activate_button.click()
    settled(qtbot, d)
    assert live(models) == "demo 1.1.0"


def test_a_report_for_other_contents_does_not_enable_activate(qtbot, ctx, models, tmp_path):
    # The candidate was replaced after acceptance ran: its report is for other bytes.
    folder = models / activation.CANDIDATES / "demo-1.1.0"
    shutil.rmtree(folder)
    shutil.copytree(make_package(tmp_path / "other", version="1.1.0", metrics={"auc": 0.5}),
                    folder)
    d = opened(qtbot, ctx)
    assert rows(d.versions)[0][3] == "acceptance report is for other contents"
    assert not d.activate_button.isEnabled()
    assert d.report.text().startswith("This report is for other package contents")


@pytest.fixture
def fake_cycle(ctx, monkeypatch):
    """Check now runs ``use(name)`` of tests.support.model_update_children in its
    process, in place of the real cycle (network and two models; tested elsewhere)."""
    from ui import model_update_runner

    yield lambda name: monkeypatch.setattr(model_update_runner, "TARGET",
                                           children.TARGET_PREFIX + name)
    model_update_runner.model_check(ctx).stop()


def test_check_now_runs_in_its_own_process_shows_its_answer_and_refreshes(
        qtbot, ctx, models, fake_cycle):
    fake_cycle("fetch_and_accept")
    children.hold_file(ctx.paths).parent.mkdir(parents=True, exist_ok=True)
    children.hold_file(ctx.paths).write_text("")
    ctx.settings.update({"models.channel": "pilot"})
    d = opened(qtbot, ctx)
    qtbot.mouseClick(d.check_button, Qt.MouseButton.LeftButton)
    assert d.progress.isVisible()
    qtbot.waitUntil(lambda: d.progress.text() == "acceptance set: 3 of 12", timeout=15000)
    assert not any(b.isEnabled() for b in (d.check_button, d.activate_button,
                                           d.rollback_button, d.pin_button))
    children.release_file(ctx.paths).write_text("")
    settled(qtbot, d)
    assert not d.progress.isVisible() and d.check_button.isEnabled()
    assert d.message.text() == "demo 1.2.0 fetched and accepted"
    assert d.error.text() == ""
    assert rows(d.versions)[0] == ["demo", "1.2.0", "update (not live)", "accepted"]
    seen = json.loads(children.seen_file(ctx.paths).read_text())
    assert seen == {"pid": seen["pid"], "channel": "pilot"} and seen["pid"] != os.getpid()


def test_a_failed_check_shows_its_one_line(qtbot, ctx, models, fake_cycle):
    fake_cycle("offline")
    d = opened(qtbot, ctx)
    d.check_button.click()
    settled(qtbot, d)
    assert d.error.text() == "the model repository cannot be reached: connection refused"
    assert d.message.text() == "" and not d.progress.isVisible()
    assert d.check_button.isEnabled() and d.activate_button.isEnabled()


def test_a_crashed_check_is_one_line_not_a_traceback(qtbot, ctx, models, fake_cycle):
    fake_cycle("crash")
    d = opened(qtbot, ctx)
    d.check_button.click()
    settled(qtbot, d)
    assert d.error.text() == "the model check stopped unexpectedly"
    assert d.check_button.isEnabled()


def test_a_dialog_opened_during_the_daily_check_shows_it_and_its_answer(
        qtbot, ctx, models, fake_cycle):
    from ui.model_update_runner import model_check

    fake_cycle("held")
    assert model_check(ctx).start(automatic=True)
    d = opened(qtbot, ctx)
    qtbot.waitUntil(lambda: d.progress.text() == "acceptance set: 0 of 12", timeout=15000)
    assert d.progress.isVisible() and not d.check_button.isEnabled()
    children.release_file(ctx.paths).write_text("")
    settled(qtbot, d)
    assert d.message.text() == "released" and d.check_button.isEnabled()


def test_the_repository_url_is_shown_without_credentials(qtbot, ctx, models, monkeypatch):
    from engine.settings import Settings

    real = Settings.all
    monkeypatch.setattr(Settings, "all", lambda self: {
        **real(self), "models.url": "https://it:secret@models.example.org:8443/r/?t=abc#x"})
    d = opened(qtbot, ctx)
    assert d.source.text() == ("Updates: channel stable, repository "
                               "https://models.example.org:8443/r/")
    assert "secret" not in d.source.text() and "abc" not in d.source.text()


def test_the_status_bar_names_a_waiting_update_until_it_is_activated(
        qtbot, ctx, models, yes, tmp_path):
    from ui.main_window import MainWindow
    from ui.models_dialog import ModelsDialog

    add_candidate(models, tmp_path, "0.9.0", False, "worse")
    w = MainWindow(ctx)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitUntil(lambda: w.update_label.isVisible(), timeout=10000)
    assert w.update_label.text() == "Model update waiting: demo 1.1.0 (accepted); 1 more waiting"
    menu_action = next(a for a in w._all_actions if a.text() == "Models...")
    menu_action.trigger()
    d = w.findChild(ModelsDialog)
    qtbot.waitUntil(lambda: d.state is not None, timeout=10000)
    d.activate_button.click()
    settled(qtbot, d)
    assert live(models) == "demo 1.1.0"
    d.reject()
    qtbot.waitUntil(lambda: w.update_label.text().endswith("(refused by acceptance)"),
                    timeout=10000)
    assert w.update_label.text() == "Model update waiting: demo 0.9.0 (refused by acceptance)"
    shutil.rmtree(models / activation.CANDIDATES / "demo-0.9.0")
    w.refresh_model_notice()
    qtbot.waitUntil(lambda: not w.update_label.isVisible(), timeout=10000)
