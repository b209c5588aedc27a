"""Every step of the default reading sequence, in a real X window (Xvfb) at
1920x1080, on a study with a prior: one screenshot per step, each checked
for what a radiologist looks at first: one breast per cell, right breasts on
the left with the chest walls facing each other, the prior's date on the
prior's tiles, and a different picture at every step."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from engine.dates import shown_date
from engine.display.protocol import DEFAULT_STEPS, cell_name
from tests.support.cli import ROOT, run_cli
from tests.support.xvfb import xvfb_env

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

TISSUE = 60  # grey level above which a screen pixel is taken for breast tissue
TEXT = 150  # the corner text is drawn near white


def _import_study_with_prior(small_cohort, home) -> tuple[str, str]:
    """Import the woman with a prior (both studies); the current study's UID
    and the prior's date."""
    prior_dir = next(p.parent for p in small_cohort.files if p.parent.name.endswith("-prior"))
    current_dir = prior_dir.with_name(prior_dir.name.removesuffix("-prior"))
    done = run_cli("import", "--no-ai", str(current_dir), str(prior_dir), home=home)
    assert done.returncode == 0, done.stderr
    studies = json.loads(run_cli("studies", "--json", home=home).stdout)["studies"]
    assert len(studies) == 2
    current, prior = sorted(studies, key=lambda s: s["study_date"], reverse=True)
    return current["study_uid"], prior["study_date"]


def _breasts(img: np.ndarray, cells: list[dict]) -> tuple[int, list[np.ndarray]]:
    """Breasts seen on screen: connected tissue in the hanging (the gaps between
    tiles left out), counted when larger than a small fraction of a cell; and
    each cell's largest tissue region as a mask of that cell."""
    inside = np.zeros(img.shape, bool)
    for c in cells:
        x, y, w, h = c["rect"]
        inside[y : y + h, x : x + w] = True
    labels, _count = ndimage.label((img > TISSUE) & inside)
    areas = np.bincount(labels.ravel())[1:]
    smallest = min(c["rect"][2] * c["rect"][3] for c in cells) * 0.05
    count = int((areas > smallest).sum())
    masks = []
    for c in cells:
        x, y, w, h = c["rect"]
        part, m = ndimage.label(img[y : y + h, x : x + w] > TISSUE)
        sizes = np.bincount(part.ravel())[1:] if m else np.zeros(1)
        masks.append(part == (int(np.argmax(sizes)) + 1) if m else np.zeros((h, w), bool))
    return count, masks


def _chest_wall_side(mask: np.ndarray) -> str:
    """The side of the breast cut straight by the image edge (tall), not the
    nipple's (short)."""
    cols = np.nonzero(mask.any(axis=0))[0]
    left, right = mask[:, cols[0] : cols[0] + 5].sum(), mask[:, cols[-1] - 4 : cols[-1] + 1].sum()
    return "left" if left > right else "right"


def _text_height(img: np.ndarray, cell: dict) -> int:
    """Height of the corner text block (label, date, window, zoom) of a cell:
    drawn in the top corner away from the chest wall."""
    x, y, w, _h = cell["rect"]
    span = 240
    x0 = x + w - span if cell["anchor"] == "left" else x
    rows = np.nonzero((img[y : y + 120, x0 : x0 + span] > TEXT).any(axis=1))[0]
    return int(rows[-1] - rows[0]) if rows.size else 0


def test_a_screenshot_of_every_hanging_step_shows_what_the_step_promises(tmp_path,
                                                                           small_cohort):
    home = tmp_path / "home"
    uid, prior_date = _import_study_with_prior(small_cohort, home)
    shots = []
    with xvfb_env(home) as env:
        for number in range(1, len(DEFAULT_STEPS) + 1):
            out = tmp_path / f"step-{number}.png"
            done = subprocess.run([sys.executable, str(ROOT / "main.py"), "screenshot", uid,
                                   "--step", str(number), "--out", str(out), "--json"],
                                  env=env, capture_output=True, text=True, timeout=180)
            assert done.returncode == 0, done.stderr[-2000:]
            report = json.loads(done.stdout)
            assert report["platform"] == "xcb" and report["step"] == number
            shots.append((out, report["cells"]))

    images = []
    for (out, cells), step in zip(shots, DEFAULT_STEPS, strict=True):
        img = np.asarray(Image.open(out).convert("L"), dtype=np.int16)
        assert img.shape == (1080, 1920)
        images.append(img)
        names = [cell_name(c) for row in step.rows for c in row]
        assert [c["label"] for c in cells] == names, step.name
        assert not any(c["problem"] for c in cells), step.name
        count, masks = _breasts(img, cells)
        assert count == len(names), f"{step.name}: {count} breasts on screen, {len(names)} cells"
        for cell, mask in zip(cells, masks, strict=True):
            assert mask.mean() > 0.05, f"{step.name}: {cell['label']} shows no breast"
            # The chest wall faces the middle of the hanging: right breasts
            # have it on their right, left breasts on their left.
            want = "right" if cell["label"].startswith("R") else "left"
            assert _chest_wall_side(mask) == want, f"{step.name}: {cell['label']} turned wrong"
        for row in range(len(step.rows)):
            pair = cells[row * len(step.rows[0]) : (row + 1) * len(step.rows[0])]
            if len(pair) == 2:  # right breast on the left of the screen, one row
                assert pair[0]["label"].startswith("R") and pair[1]["label"].startswith("L")
                assert pair[0]["rect"][0] < pair[1]["rect"][0]
                assert pair[0]["rect"][1] == pair[1]["rect"][1]
        for cell in cells:
            if cell["label"].endswith(" prior"):
                assert cell["caption"] == f"prior {shown_date(prior_date)}"
            elif step.needs_prior:
                assert cell["caption"].startswith("current ")
            else:
                assert cell["caption"] == ""
    # The prior's date is drawn: a line more in its tiles' corner text than
    # in the same place of the screening 2x2, which has no dates.
    first = shots[0][1]
    for index in (1, 2):
        for cell, plain in zip(shots[index][1], first, strict=True):
            if cell["label"].endswith(" prior"):
                assert _text_height(images[index], cell) > _text_height(images[0], plain) + 8
    for i in range(1, len(images)):
        changed = np.abs(images[i] - images[i - 1])[:, :1500].mean()
        assert changed > 2, f"step {i + 1} looks like step {i}"


def test_a_step_the_study_cannot_show_is_refused_in_one_line(tmp_path, small_cohort):
    home = tmp_path / "home"
    alone = next(p.parent for p in small_cohort.files
                 if not (p.parent.parent / f"{p.parent.name}-prior").exists()
                 and not p.parent.name.endswith("-prior"))
    assert run_cli("import", "--no-ai", str(alone), home=home).returncode == 0
    uid = json.loads(run_cli("studies", "--json", home=home).stdout)["studies"][0]["study_uid"]
    out = tmp_path / "step.png"
    for step, reason in (("2", "compares with an earlier study"),
                         (str(len(DEFAULT_STEPS) + 1), f"steps 1 to {len(DEFAULT_STEPS)}"),
                         ("0", "there is no step 0")):
        done = run_cli("screenshot", uid, "--step", step, "--out", str(out), home=home)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and reason in lines[0], done.stderr
        assert not out.exists() and not list(tmp_path.glob("*.part*"))
    done = run_cli("screenshot", uid, "--step", "4", "--out", str(out), "--json", home=home)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [c["label"] for c in json.loads(done.stdout)["cells"]] == ["RCC"]
