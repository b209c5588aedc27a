"""Images on their own monitors: the window's cases (multiscreen_cases.py)
run in a child pytest whose Qt platform has three screens, since one
process's screens are fixed when Qt starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cli import ROOT

pytestmark = pytest.mark.slow  # a second Qt process and its own cohort

SCREENS = {"synchronousWindowSystemEvents": True, "screens": [
    {"name": "control", "x": 0, "y": 0, "width": 1920, "height": 1080},
    {"name": "imageL", "x": 1920, "y": 0, "width": 1536, "height": 2048},
    {"name": "imageR", "x": 3456, "y": 0, "width": 1536, "height": 2048},
]}


def test_images_on_their_own_screens(tmp_path):
    screens = [s | {"logicalDpi": 96, "logicalBpi": 96, "dpr": 1} for s in SCREENS["screens"]]
    config = tmp_path / "screens.json"
    config.write_text(json.dumps(SCREENS | {"screens": screens}))
    env = os.environ | {"QT_QPA_PLATFORM": f"offscreen:configfile={config}"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "child"), "tests/ui/multiscreen_cases.py"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=500)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "8 passed" in summary, summary
