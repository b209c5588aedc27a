"""The application in a real X window (Xvfb): a phantom study hangs as the
screening 2x2, every quadrant shows a breast, chest walls toward the centre."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.support.cli import ROOT, run_cli
from tests.support.xvfb import xvfb_env

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI


def test_screenshot_in_xvfb_is_the_2x2_hang(tmp_path, small_cohort):
    home = tmp_path / "home"
    study = next(p.parent for p in small_cohort.files if "prior" not in p.parent.name)
    assert run_cli("import", "--no-ai", str(study), home=home).returncode == 0
    uid = json.loads(run_cli("studies", "--json", home=home).stdout)
    uid = (uid if isinstance(uid, list) else uid["studies"])[0]["study_uid"]
    with xvfb_env(home) as env:
        out = tmp_path / "hang.png"
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), "screenshot", uid, "--out",
                               str(out), "--json"], env=env, capture_output=True, text=True,
                              timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["platform"] == "xcb"
    cells = report["cells"]
    assert [c["label"] for c in cells] == ["RCC", "LCC", "RMLO", "LMLO"]
    img = np.asarray(Image.open(out).convert("L"), dtype=np.float32)
    (x0, y0, _w0, _h0), (x1, y1, _w1, _h1) = cells[0]["rect"], cells[1]["rect"]
    assert x0 < x1 and y0 == y1  # right breast on the viewer's left
    assert cells[2]["rect"][1] > y0  # MLO row under the CC row
    for c in cells:
        x, y, w, h = c["rect"]
        quad = img[y + h // 5 : y + h - h // 10, x : x + w]  # below the corner text
        assert (quad > 40).mean() > 0.15, f"{c['label']} looks empty"
        cols = quad.mean(axis=0)
        band = max(1, w // 10)
        outer, inner = (cols[:band], cols[-band:]) if c["label"].startswith("R") else \
            (cols[-band:], cols[:band])
        # The chest wall (tissue to the edge) faces the centre; the far side is air.
        assert inner.mean() > outer.mean() + 20, f"{c['label']} chest wall not at the centre"
