"""The model update check runs in a spawned process: its progress and its
answer reach the window, an error is one line, a crash is one line, and
closing stops it.  The window's daily check starts only when one is due,
and the status bar shows what it found."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from sync.model_updates import cycle
from tests.support import model_update_children as children


@pytest.fixture
def check(ctx, monkeypatch):
    """The context's check, running ``use(name)`` of tests.support.model_update_children."""
    from ui import model_update_runner
    from ui.model_update_runner import model_check

    runner = model_check(ctx)
    runner.ends, runner.steps = [], []
    runner.ended.connect(runner.ends.append)
    runner.progressed.connect(lambda *step: runner.steps.append(step))
    runner.use = lambda name: monkeypatch.setattr(model_update_runner, "TARGET",
                                                 children.TARGET_PREFIX + name)
    yield runner
    runner.stop()


def ended(qtbot, check):
    qtbot.waitUntil(lambda: bool(check.ends), timeout=15000)
    assert not check.running()
    [end] = check.ends
    return end


def seen(ctx) -> dict:
    return json.loads(children.seen_file(ctx.paths).read_text())


def test_progress_and_the_answer_cross_from_the_check_process(qtbot, ctx, check):
    ctx.settings.update({"models.channel": "pilot"})
    check.use("progress_then_answer")
    assert check.start()
    assert check.running()
    end = ended(qtbot, check)
    assert check.steps == [("fetching the update", 1, 3), ("acceptance set", 3, 12)]
    assert end.outcome["reason"] == "no update on channel pilot"
    assert end.line() == "no update on channel pilot" and end.note() == ""
    assert seen(ctx)["pid"] != os.getpid()  # not in the window's process


@pytest.mark.parametrize("name, line, note", [
    ("offline", "the model repository cannot be reached: connection refused",
     "Model check: offline"),
    ("bug", "internal error: ValueError: a bug over two lines", "Model check: failed"),
    ("crash", "the model check stopped unexpectedly", "Model check: failed"),
])
def test_a_failure_or_a_crash_of_the_check_is_one_line(qtbot, ctx, check, name, line, note):
    check.use(name)
    check.start()
    end = ended(qtbot, check)
    assert end.outcome is None
    assert end.error == line and end.note() == note


def test_one_check_at_a_time_and_stopping_ends_its_process(qtbot, ctx, check):
    check.use("held")
    assert check.start()
    qtbot.waitUntil(lambda: check.steps == [("acceptance set", 0, 12)], timeout=15000)
    assert not check.start()  # the running one goes on
    pid = seen(ctx)["pid"]
    check.stop()
    assert not check.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    qtbot.wait(300)
    assert check.ends == []  # a stopped check has nothing to say


# -- the window's daily check ------------------------------------------------------


@pytest.fixture
def window(qtbot, ctx, monkeypatch):
    """A main window that runs the daily check (the tests' AI is off)."""
    from ui.main_window import MainWindow

    monkeypatch.setattr(MainWindow, "auto_model_check", True)
    monkeypatch.setattr("ui.model_update_runner.FIRST_CHECK_MS", 0)

    def make():
        w = MainWindow(ctx)
        qtbot.addWidget(w)
        w.show()
        return w

    return make


@pytest.fixture
def due(ctx, check):
    """The repository is configured and the last check is a day old."""
    ctx.settings.update({"models.url": "https://models.example.org/repo/"})
    return check


def test_the_daily_check_runs_when_due_and_the_notice_names_what_it_found(
        qtbot, ctx, due, window):
    due.use("fetch_and_accept")
    w = window()
    end = ended(qtbot, due)
    assert end.automatic and end.outcome["candidate"] == "1.2.0"
    qtbot.waitUntil(lambda: w.update_label.isVisible(), timeout=10000)
    assert w.update_label.text() == "Model update waiting: demo 1.2.0 (accepted)"


def test_an_offline_daily_check_leaves_a_short_note(qtbot, ctx, due, window):
    due.use("offline")
    w = window()
    ended(qtbot, due)
    qtbot.waitUntil(lambda: w.update_label.isVisible(), timeout=10000)
    assert w.update_label.text() == "Model check: offline"


@pytest.mark.parametrize("settings", [
    {},  # no repository configured
    {"models.url": "https://models.example.org/repo/", "models.auto_check": "no"},
    {"models.url": "https://models.example.org/repo/", "checked": "just now"},
])
def test_no_daily_check_when_none_is_due(qtbot, ctx, check, window, settings):
    if settings.pop("checked", None):
        cycle._note_checked(ctx.paths)
    ctx.settings.update(settings)
    check.use("progress_then_answer")
    w = window()
    assert w.model_updates.timer.isActive()  # it asks again every hour
    qtbot.waitUntil(lambda: ctx.ops.pending == 0, timeout=10000)
    qtbot.wait(200)
    assert not check.running() and check.ends == []
    assert not children.seen_file(ctx.paths).exists()


def test_the_check_is_asked_again_every_hour_and_not_while_one_runs(
        qtbot, ctx, check, monkeypatch):
    from PySide6.QtWidgets import QLabel

    from ui.model_update_runner import ModelUpdates

    asked: list[datetime] = []
    monkeypatch.setattr(cycle, "check_due",
                        lambda _paths, _settings: asked.append(datetime.now(UTC)) or True)
    check.use("held")
    label = QLabel()
    qtbot.addWidget(label)
    updates = ModelUpdates(ctx, label, every_ms=50, first_ms=0)
    assert updates.start_daily(True)
    qtbot.waitUntil(check.running, timeout=5000)
    qtbot.wait(300)  # several hours go by while the check runs: nothing more starts
    assert len(asked) == 1
    children.release_file(ctx.paths).write_text("")
    qtbot.waitUntil(lambda: bool(check.ends), timeout=15000)
    qtbot.waitUntil(lambda: len(asked) >= 2, timeout=5000)
    updates.stop()


def test_no_daily_check_without_the_ai(qtbot, ctx, check):
    from ui.main_window import MainWindow

    ctx.settings.update({"models.url": "https://models.example.org/repo/"})
    w = MainWindow(ctx)  # the tests' context runs no AI
    qtbot.addWidget(w)
    assert not w.model_updates.timer.isActive()
    qtbot.waitUntil(lambda: ctx.ops.pending == 0, timeout=10000)
    assert not check.running()


def test_closing_the_window_stops_a_running_check(qtbot, ctx, due, window):
    due.use("held")
    w = window()
    qtbot.waitUntil(lambda: due.steps != [], timeout=15000)
    pid = seen(ctx)["pid"]
    w.close()
    assert not due.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
