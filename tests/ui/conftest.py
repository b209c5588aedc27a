"""Qt tests run offscreen (no display needed); the Xvfb test starts its own."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from engine.paths import app_paths


@pytest.fixture
def paths(tmp_path):
    return app_paths(tmp_path / "home")


@pytest.fixture
def ctx(qtbot, paths):
    from ui.context import AppContext

    c = AppContext(paths, ai_enabled=False)
    yield c
    c.close()


@pytest.fixture(autouse=True)
def no_modal_dialogs(monkeypatch):
    """A message box in a test would wait for a click forever: it fails the
    test at once instead (tests that expect one replace the window's
    confirm/warn helpers)."""
    from PySide6.QtWidgets import QMessageBox

    def refuse(*args, **_kwargs):
        title = next((a for a in args if isinstance(a, str)), "")
        raise AssertionError(f"a modal message box opened in a test: {title!r}")

    for name in ("question", "warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, name, staticmethod(refuse))
