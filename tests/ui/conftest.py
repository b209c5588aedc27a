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
