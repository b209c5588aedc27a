"""``evaluate`` on a test set too small for a meaningful AUC: the shipped model
over three synthetic women says so in one line, in the text, the JSON and the
model card, and shows no interval that looks certain."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from engine.resources import builtin_model_dir
from tests.support.cli import run_cli

pytestmark = pytest.mark.slow  # runs the model over a cohort in a process


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three synthetic women, one or two with a cancer: labels.csv."""
    from engine.phantom import generate_cohort

    out = tmp_path_factory.mktemp("tiny")
    cohort = generate_cohort(out / "cohort", 3, seed=5, cancer_rate=0.5, size="small",
                             prior_rate=0.0)
    return Path(cohort.labels_csv)


def _expected_warning(labels: Path) -> str:
    with open(labels, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    breasts = [int(r["cancer"]) for r in rows]
    exams: dict[str, int] = {}
    for r in rows:
        exams[r["study_id"]] = max(exams.get(r["study_id"], 0), int(r["cancer"]))
    pos_b, pos_e = sum(breasts), sum(exams.values())
    assert 0 < pos_b < len(breasts) and 0 < pos_e < len(exams)  # both classes, or no AUC
    return (f"only {pos_b} positive and {len(breasts) - pos_b} negative breasts, and "
            f"{pos_e} positive and {len(exams) - pos_e} negative exams; with fewer than 10 "
            "of either class the AUC means little and no 95% CI is given")


def test_evaluate_text_warns_in_one_line_and_shows_no_certain_looking_interval(
        tiny_set, tmp_path):
    done = run_cli("evaluate", str(tiny_set), "--out", str(tmp_path / "eval"),
                   "--resamples", "200", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"warning: {_expected_warning(tiny_set)}" in lines
    auc_line = next(line for line in lines if line.startswith("breast-level AUC"))
    assert auc_line.count("(no 95% CI)") == 2, auc_line
    assert "CI 1.0-1.0" not in done.stdout


def test_evaluate_json_and_the_updated_model_card_carry_the_warning(tiny_set, tmp_path):
    package = tmp_path / "package"
    shutil.copytree(builtin_model_dir(), package)
    done = run_cli("evaluate", str(tiny_set), "--out", str(tmp_path / "eval"),
                   "--resamples", "200", "--model", str(package), "--update-package",
                   "--json", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    expected = _expected_warning(tiny_set)
    evaluation = json.loads(done.stdout)
    assert evaluation["warning"] == expected
    assert evaluation["breast_auc"]["ci_low"] is None
    assert f"mammodesk: warning: {expected}" in done.stderr.splitlines()
    card = (package / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"**Warning: {expected}.**" in card
    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["metrics"]["held_out"]["warning"] == expected
