"""The model package MammoDesk ships: it verifies, is small, says what it is,
and finds a clearly visible cancer in a synthetic study it has never seen."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from engine.ai.package import read_package
from engine.ai.service import BUILTIN_MODEL
from engine.phantom import generate_cohort
from engine.phantom.plan import plan_study
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

TRAINING_SEEDS = {1001}  # the README's training cohort; the held-out set uses 9001


def _visible_cancer_seed() -> int:
    """A seed whose first study has a large, high-contrast cancer mass in a
    fatty breast (nothing subtle about it), outside the training seeds."""
    for seed in range(50_000, 60_000):
        plan = plan_study(seed, 0, 1.0, 0.0)
        lesion = next((les for les in plan.current.lesions.values() if les and les.cancer), None)
        if (
            lesion is not None
            and lesion.kind.startswith("mass")
            and lesion.size_mm >= 12
            and lesion.contrast >= 0.3
            and plan.density in ("a", "b")
        ):
            assert seed not in TRAINING_SEEDS
            return seed
    raise AssertionError("no suitable seed")


@pytest.fixture(scope="module")
def visible_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("visible")
    result = generate_cohort(out, 1, seed=_visible_cancer_seed(), cancer_rate=1.0, prior_rate=0.0)
    with open(result.labels_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["cancer"] == "1"]
    assert len(rows) == 1
    study_dir = next(p for p in out.iterdir() if p.is_dir())
    return study_dir, rows[0]


def test_shipped_package_verifies_and_is_small() -> None:
    pkg = read_package(BUILTIN_MODEL)
    total = sum(f.stat().st_size for f in BUILTIN_MODEL.rglob("*") if f.is_file())
    assert total < 50 * 1024 * 1024
    assert pkg.onnx_path is not None
    card = pkg.card_path.read_text()
    assert "not for clinical use" in card.lower()
    assert "synthetic" in card.lower()
    held_out = pkg.manifest["metrics"]["held_out"]
    assert held_out["counts"]["exams"] >= 400
    assert held_out["breast_auc"]["auc"] is not None


def test_analyze_scores_the_cancer_breast_higher(visible_study, tmp_path: Path) -> None:
    study_dir, row = visible_study
    sr = tmp_path / "cad.dcm"
    proc = run_cli("analyze", str(study_dir), "--json", "--sr", str(sr), home=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert "not for clinical use" in doc["notice"].lower()
    probs = {b["laterality"]: b["probability"] for b in doc["breasts"]}
    cancer, other = row["laterality"], "L" if row["laterality"] == "R" else "R"
    assert probs[cancer] > probs[other] + 0.2, probs
    # A mark on the lesion in at least one view of the cancer breast.
    hits = 0
    for view in doc["views"]:
        if view["laterality"] != cancer:
            continue
        prefix = "cc_" if view["view_position"] == "CC" else "mlo_"
        x0, y0 = float(row[prefix + "bbox_x0"]), float(row[prefix + "bbox_y0"])
        x1, y1 = float(row[prefix + "bbox_x1"]), float(row[prefix + "bbox_y1"])
        pad = 50  # 5 mm at 0.1 mm pixels
        hits += any(
            x0 - pad <= m["x"] < x1 + pad and y0 - pad <= m["y"] < y1 + pad for m in view["marks"]
        )
    assert hits >= 1, doc["views"]
    dump = subprocess.run(["dciodvfy", str(sr)], capture_output=True, text=True)
    assert not [ln for ln in (dump.stdout + dump.stderr).splitlines() if "Error" in ln]


def test_backends_agree_on_the_shipped_model(visible_study, tmp_path: Path) -> None:
    study_dir, _ = visible_study
    docs = {}
    for backend in ("tensorflow", "onnxruntime"):
        proc = run_cli("analyze", str(study_dir), "--json", "--backend", backend, home=tmp_path)
        assert proc.returncode == 0, proc.stderr
        docs[backend] = json.loads(proc.stdout)
        assert docs[backend]["backend"] == backend
    for a, b in zip(docs["tensorflow"]["breasts"], docs["onnxruntime"]["breasts"], strict=True):
        assert abs(a["probability"] - b["probability"]) <= 1e-4
