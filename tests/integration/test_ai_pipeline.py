"""The local-AI pipeline end to end through the command line: train a tiny
model on a synthetic cohort, resume, evaluate, analyse with both backends.

The model is trained for three steps only, so nothing here judges its
quality; these tests check what a user of the commands sees.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest

from engine.ai.package import read_package
from engine.ai.results import NOT_FOR_CLINICAL_USE
from engine.phantom import generate_cohort
from tests.support.cli import run_cli
from tests.support.dicom_factory import bundled

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

TRAIN_ARGS = ("--epochs", "1", "--steps", "3", "--batch", "2")
TRAIN_ARGS += ("--val-fraction", "0.4", "--workers", "1")
PACKAGE_FILES = ("manifest.json", "model.keras", "model.onnx", "MODEL_CARD.md")
MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
# Probabilities are reported rounded to four decimals; values within 1e-4 of
# each other round at most one step (1e-4) apart.
ROUNDED_1E4 = 1e-4 + 1e-9


@dataclass
class Trained:
    cohort: Path
    labels: Path
    work: Path
    package: Path
    home: Path
    study: Path  # a four-view study folder with a cancer
    train_stdout: str
    train_stderr: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Eight synthetic women (four with a cancer) and a three-step training run."""
    root = tmp_path_factory.mktemp("ai_pipeline")
    cohort = generate_cohort(
        root / "cohort", 8, seed=4, cancer_rate=0.5, size="small", prior_rate=0.0
    )
    with open(cohort.labels_csv, newline="", encoding="utf-8") as fh:
        study_id = next(r["study_id"] for r in csv.DictReader(fh) if r["cancer"] == "1")
    home, work = root / "home", root / "train"
    done = run_cli(
        "train", str(cohort.labels_csv), "--out", str(work), *TRAIN_ARGS, home=home, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Trained(
        cohort.out_dir,
        cohort.labels_csv,
        work,
        work / "package",
        home,
        cohort.out_dir / study_id,
        done.stdout,
        done.stderr,
    )


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def _analyze(t: Trained, target: Path | str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli("analyze", str(target), "--model", str(t.package), *extra, home=t.home)


def _analyze_json(t: Trained, target: Path | str, *extra: str) -> dict:
    done = _analyze(t, target, "--json", *extra)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def _study_copy(t: Trained, tmp_path: Path, drop: str | None = None) -> Path:
    folder = tmp_path / "study"
    shutil.copytree(t.study, folder)
    if drop:
        (folder / drop).unlink()
    return folder


# -- train ----------------------------------------------------------------------


def test_train_writes_a_verified_package_with_its_card(trained):
    for name in PACKAGE_FILES:
        assert (trained.package / name).is_file(), name
    pkg = read_package(trained.package)  # every file's SHA-256 checked
    assert pkg.onnx_path == trained.package / "model.onnx"
    assert pkg.manifest["notice"] == NOT_FOR_CLINICAL_USE
    assert pkg.manifest["training_data"]["synthetic"] is True
    card = (trained.package / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "not for clinical use" in card.lower()
    assert "not for clinical use" in trained.train_stdout
    assert "epoch 1/1" in trained.train_stderr


def test_rerun_of_a_finished_training_resumes_without_training_again(trained, tmp_path):
    work = tmp_path / "train"
    shutil.copytree(trained.work, work)
    history = json.loads((work / "history.json").read_text())
    done = run_cli(
        "train",
        str(trained.labels),
        "--out",
        str(work),
        *TRAIN_ARGS,
        home=trained.home,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming after epoch 1 of 1" in done.stderr
    assert "epoch 1/1" not in done.stderr, "the finished epoch was trained again"
    assert json.loads((work / "history.json").read_text()) == history
    pkg = read_package(work / "package")
    assert {p.name for p in pkg.root.iterdir()} >= set(PACKAGE_FILES)


def test_train_from_studies_imported_into_the_library(trained, tmp_path):
    home = tmp_path / "home"
    labels = tmp_path / "labels-only" / "labels.csv"  # the CSV travels without its images
    labels.parent.mkdir()
    shutil.copy(trained.labels, labels)
    args = ("train", str(labels), "--images-from", "library", "--out", str(tmp_path / "w"))

    empty = run_cli(*args, *TRAIN_ARGS, home=home)
    assert empty.returncode == 2
    assert "the library has no images" in _one_line_error(empty)

    imported = run_cli("import", "--no-ai", str(trained.cohort), home=home)
    assert imported.returncode == 0, imported.stderr
    done = run_cli(*args, *TRAIN_ARGS, home=home, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    n_images = 2 * (len(labels.read_text(encoding="utf-8").splitlines()) - 1)
    assert f"{n_images} images" in done.stderr and "skipped {}" in done.stderr
    info = json.loads((tmp_path / "w" / "training.json").read_text())
    assert info["train"]["images"] + info["validation"]["images"] == n_images
    read_package(tmp_path / "w" / "package")


# -- evaluate ---------------------------------------------------------------------


def test_evaluate_writes_metrics_and_plots(trained, tmp_path):
    out = tmp_path / "eval"
    done = run_cli(
        "evaluate",
        str(trained.labels),
        "--model",
        str(trained.package),
        "--resamples",
        "50",
        "--out",
        str(out),
        "--json",
        home=trained.home,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    evaluation = json.loads(done.stdout)
    for key in ("breast_auc", "exam_auc", "froc"):
        assert key in evaluation, key
    assert evaluation["analysis"]["exams"] == 8
    assert evaluation["breast_auc"]["n_pos"] == 4
    for plot in ("roc.png", "froc.png", "reliability.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot
    assert json.loads((out / "evaluation.json").read_text()) == evaluation


# -- analyze ---------------------------------------------------------------------


def _dciodvfy_errors(path: Path) -> list[str]:
    done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (done.stdout + done.stderr).splitlines() if "Error" in line]


def test_analyze_with_both_backends_agrees_and_writes_sr_and_pdf(trained, tmp_path):
    results = {}
    for backend in ("onnxruntime", "tensorflow"):
        sr, pdf = tmp_path / f"{backend}.dcm", tmp_path / f"{backend}.pdf"
        result = _analyze_json(
            trained, trained.study, "--sr", str(sr), "--pdf", str(pdf), "--backend", backend
        )
        assert result["backend"] == backend
        assert result["device"]
        assert "not for clinical use" in result["notice"]
        assert pdf.read_bytes()[:5] == b"%PDF-"
        assert _dciodvfy_errors(sr) == []
        written = pydicom.dcmread(sr)
        assert written.SOPClassUID == MAMMOGRAPHY_CAD_SR
        assert written.StudyInstanceUID == result["study_instance_uid"]
        results[backend] = result

    onnx, tf = results["onnxruntime"], results["tensorflow"]
    assert [b["laterality"] for b in onnx["breasts"]] == ["R", "L"]
    for a, b in zip(onnx["breasts"], tf["breasts"], strict=True):
        assert a["laterality"] == b["laterality"]
        assert a["probability"] is not None and b["probability"] is not None
        assert abs(a["probability"] - b["probability"]) <= ROUNDED_1E4, (a, b)
        assert a["density"] == b["density"]
    assert onnx["exam_score"] == pytest.approx(tf["exam_score"], abs=0.1 + 1e-9)
    views_tf = {v["view"]: v for v in tf["views"]}
    assert sorted(views_tf) == ["LCC", "LMLO", "RCC", "RMLO"]
    for v in onnx["views"]:
        assert v["reason"] is None
        assert abs(v["score"] - views_tf[v["view"]]["score"]) <= ROUNDED_1E4, v["view"]


def test_backends_agree_on_heatmaps_and_marks(trained):
    from engine.ai.analyze import analyze_datasets
    from engine.ai.runtime import load_runtime
    from engine.ai.service import datasets_from_path

    pkg = read_package(trained.package)
    datasets = datasets_from_path(trained.study)
    results = [
        analyze_datasets(datasets, load_runtime(pkg, backend), mark_threshold=0.0)
        for backend in ("onnxruntime", "tensorflow")
    ]
    onnx, tf = ({v.view: v for v in r.views} for r in results)
    assert sorted(onnx) == sorted(tf) == ["LCC", "LMLO", "RCC", "RMLO"]
    for name, a in onnx.items():
        b = tf[name]
        assert a.heatmap is not None and b.heatmap is not None
        assert a.heatmap.shape == b.heatmap.shape == (-(-a.rows // 16), -(-a.columns // 16))
        assert np.allclose(a.heatmap, b.heatmap, atol=1e-4), name
        # With no threshold every view has marks; the strongest is the heatmap's peak.
        assert a.marks and b.marks
        assert abs(a.marks[0].score - b.marks[0].score) <= ROUNDED_1E4, name


def test_missing_lmlo_leaves_the_left_breast_unscored_with_a_reason(trained, tmp_path):
    folder = _study_copy(trained, tmp_path, drop="LMLO.dcm")
    result = _analyze_json(trained, folder)
    right, left = result["breasts"]
    assert left["laterality"] == "L" and left["probability"] is None
    assert "LMLO missing" in left["reason"]
    assert right["laterality"] == "R" and right["probability"] is not None
    assert right["reason"] is None
    assert result["exam_score"] == pytest.approx(100 * right["probability"], abs=0.1)
    assert result["reason"] == "only one breast assessed"


def test_folder_without_mammograms_scores_nothing_and_says_why(trained, tmp_path):
    folder = tmp_path / "ct"
    folder.mkdir()
    shutil.copy(bundled("CT_small.dcm"), folder / "CT_small.dcm")
    result = _analyze_json(trained, folder)
    assert result["exam_score"] is None and result["category"] is None
    assert result["reason"] == "no breast could be assessed"
    assert all(b["probability"] is None for b in result["breasts"])
    assert result["views"] and all(
        v["reason"] == "not a mammogram (modality CT)" for v in result["views"]
    )
    text = _analyze(trained, folder)
    assert text.returncode == 0
    assert "not a mammogram" in text.stdout


def test_folder_without_mammograms_with_report_outputs_is_not_an_internal_error(trained, tmp_path):
    folder = tmp_path / "ct"
    folder.mkdir()
    shutil.copy(bundled("CT_small.dcm"), folder / "CT_small.dcm")
    sr, pdf = tmp_path / "ct.dcm", tmp_path / "ct.pdf"
    done = _analyze(trained, folder, "--sr", str(sr), "--pdf", str(pdf))
    assert "internal error" not in done.stderr
    assert done.returncode in (0, 2), done.stderr
    if done.returncode == 2:
        assert "error" in _one_line_error(done)
    else:
        assert _dciodvfy_errors(sr) == []
        assert pdf.read_bytes()[:5] == b"%PDF-"


def test_tampered_model_is_refused_in_one_line(trained, tmp_path):
    bad = tmp_path / "package"
    shutil.copytree(trained.package, bad)
    keras_file = bad / "model.keras"
    data = bytearray(keras_file.read_bytes())
    data[len(data) // 2] ^= 0x01
    keras_file.write_bytes(bytes(data))
    done = run_cli("analyze", str(trained.study), "--model", str(bad), "--json", home=trained.home)
    assert done.returncode == 2
    line = _one_line_error(done)
    assert "sha256" in line.lower() and "model.keras" in line
    assert done.stdout == ""


def test_analyze_of_an_unknown_study_uid_is_one_line(trained):
    done = _analyze(trained, "1.2.826.0.1.3680043.8.498.999999")
    assert done.returncode == 2
    assert "no study with UID" in _one_line_error(done)
