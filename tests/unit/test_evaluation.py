"""Evaluation library: AUC and its bootstrap CI, operating points, calibration,
FROC, the evaluation report with its plots, and the model card."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from engine.ai.evaluation import (
    BreastPrediction,
    FrocImage,
    bootstrap_auc_ci,
    calibration,
    evaluate_predictions,
    few_cases_warning,
    froc_curve,
    lesion_hits,
    render_model_card,
    roc_auc,
    roc_curve,
    sensitivity_at_fp,
    sensitivity_at_specificity,
)
from engine.ai.results import NOT_FOR_CLINICAL_USE
from engine.errors import MammoDeskError

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _brute_auc(y: np.ndarray, s: np.ndarray) -> float:
    p, n = s[y == 1][:, None], s[y == 0][None, :]
    return float(((p > n) + 0.5 * (p == n)).mean())


def _scored(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, rng.normal(size=n) + shift * y


# --- AUC -------------------------------------------------------------------------------


def test_auc_matches_hand_computed_examples():
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered correctly
    assert roc_auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])) == pytest.approx(0.75)
    # a tie between a positive and a negative counts half: (0.5 + 1 + 1 + 1) / 4
    assert roc_auc(np.array([0, 1, 0, 1]), np.array([0.5, 0.5, 0.2, 0.9])) == pytest.approx(0.875)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_equals_brute_force_pair_count_with_ties(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.normal(size=300) + 0.7 * y, 1)  # rounding makes many ties
    assert roc_auc(y, s) == pytest.approx(_brute_auc(y, s), abs=1e-12)
    fpr, tpr, th = roc_curve(y, s)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0) and np.all(np.diff(th) < 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc(y, s), abs=1e-12)


def test_auc_of_perfect_reversed_constant_and_random_scores():
    y = np.array([0, 0, 0, 1, 1])
    assert roc_auc(y, np.array([0.1, 0.2, 0.3, 0.8, 0.9])) == 1.0
    assert roc_auc(y, np.array([0.9, 0.8, 0.7, 0.2, 0.1])) == 0.0
    assert roc_auc(y, np.full(5, 0.4)) == 0.5
    y, _ = _scored(20000, 0.0, 3)
    assert roc_auc(y, np.random.default_rng(4).random(y.size)) == pytest.approx(0.5, abs=0.02)


def test_auc_with_one_class_is_a_clear_error():
    with pytest.raises(ValueError, match="both"):
        roc_auc(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9]))
    with pytest.raises(MammoDeskError):
        bootstrap_auc_ci(np.zeros(4, int), np.arange(4.0))


# --- bootstrap ------------------------------------------------------------------------


def test_bootstrap_ci_contains_estimate_and_narrows_with_more_data():
    y, s = _scored(200, 1.0, 5)
    lo, hi = bootstrap_auc_ci(y, s, n_resamples=1000, seed=1)
    assert lo < roc_auc(y, s) < hi
    assert bootstrap_auc_ci(y, s, n_resamples=1000, seed=1) == (lo, hi)  # reproducible
    y4, s4 = _scored(3200, 1.0, 6)
    lo4, hi4 = bootstrap_auc_ci(y4, s4, n_resamples=1000, seed=1)
    assert lo4 < roc_auc(y4, s4) < hi4
    assert (hi4 - lo4) < 0.5 * (hi - lo)  # 16x the data: about a quarter of the width


def test_group_bootstrap_keeps_groups_together():
    """Each case duplicated 4x: resampling groups gives the width of the original data,
    resampling rows pretends there are 4x as many independent cases."""
    y, s = _scored(300, 1.0, 7)
    y4, s4, groups = np.repeat(y, 4), np.repeat(s, 4), np.repeat(np.arange(300), 4)
    width = np.diff(bootstrap_auc_ci(y, s, n_resamples=2000, seed=2))[0]
    grouped = np.diff(bootstrap_auc_ci(y4, s4, n_resamples=2000, seed=2, groups=groups))[0]
    rows = np.diff(bootstrap_auc_ci(y4, s4, n_resamples=2000, seed=2))[0]
    assert grouped == pytest.approx(width, rel=0.15)
    assert rows < 0.65 * grouped


@pytest.mark.timeout(30)
def test_bootstrap_of_2000_resamples_on_1600_rows_finishes():
    y, s = _scored(1600, 0.8, 8)
    lo, hi = bootstrap_auc_ci(y, s, n_resamples=2000, groups=np.arange(1600) // 2)
    assert 0.5 < lo < roc_auc(y, s) < hi < 1.0


# --- operating point and calibration --------------------------------------------------


def test_sensitivity_at_specificity_hand_example():
    neg = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    pos = [0.5, 0.85, 0.92, 0.97, 0.99]
    y, s = np.array([0] * 10 + [1] * 5), np.array(neg + pos)
    assert sensitivity_at_specificity(y, s, 0.9) == (pytest.approx(0.6), 0.92)
    assert sensitivity_at_specificity(y, s, 0.8) == (pytest.approx(0.8), 0.85)
    assert sensitivity_at_specificity(y, s, 1.0) == (pytest.approx(0.4), 0.97)
    assert sensitivity_at_specificity(y, s, 0.0) == (pytest.approx(1.0), 0.1)
    # no positive above the highest negative: the threshold just clears it, sensitivity 0
    sens, t = sensitivity_at_specificity(np.array([0, 0, 1]), np.array([0.2, 0.9, 0.5]), 1.0)
    assert sens == 0.0 and 0.9 < t < 0.9 + 1e-12


def test_calibration_error_small_when_calibrated_large_when_overconfident():
    rng = np.random.default_rng(9)
    p = rng.random(20000)
    y = (rng.random(20000) < p).astype(int)
    good = calibration(y, p)
    assert good["ece"] < 0.02
    assert sum(b["count"] for b in good["bins"]) == 20000 and len(good["bins"]) == 10
    # says 0.01 or 0.99, but the 0.99 group is right only 70% of the time
    conf = np.where(rng.random(20000) < 0.5, 0.99, 0.01)
    truth = np.where(conf > 0.5, rng.random(20000) < 0.7, rng.random(20000) < 0.3).astype(int)
    bad = calibration(truth, conf)
    assert bad["ece"] == pytest.approx(0.29, abs=0.02)
    last = calibration(np.array([1, 0]), np.array([1.0, 0.0]), n_bins=4)["bins"]
    assert [b["count"] for b in last] == [1, 0, 0, 1] and last[1]["mean_prob"] is None


# --- FROC -----------------------------------------------------------------------------


def _froc_images() -> list[FrocImage]:
    return [
        # one lesion, two marks on it (0.9 and 0.8) and one false mark (0.7)
        FrocImage("i1", [(15, 15, 0.9), (12, 18, 0.8), (50, 50, 0.7)], [(10, 10, 20, 20)]),
        # one lesion; its mark lies 2 px right of the box (x1 exclusive)
        FrocImage("i2", [(112, 105, 0.6)], [(100, 100, 110, 110)]),
        # a normal image with one false mark
        FrocImage("i3", [(5, 5, 0.85)], []),
    ]


def test_froc_counts_hits_once_and_false_marks_per_image():
    curve = froc_curve(_froc_images())
    assert curve["n_images"] == 3 and curve["n_lesions"] == 2
    assert list(curve["thresholds"]) == [0.9, 0.85, 0.7, 0.6]  # the second hit is no point
    assert list(curve["sensitivity"]) == [0.5, 0.5, 0.5, 0.5]
    # false marks: 0.85 (normal image), 0.7, 0.6; the second mark on lesion 1 is not one
    assert curve["fp_per_image"] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    assert sensitivity_at_fp(curve, 0.0) == 0.5
    assert lesion_hits(_froc_images(), 0.75) == [True, False]
    assert lesion_hits(_froc_images(), 0.95) == [False, False]


def test_froc_tolerance_grows_the_lesion_box():
    curve = froc_curve(_froc_images(), tolerance_px=5)
    assert curve["sensitivity"][-1] == 1.0 and curve["fp_per_image"][-1] == pytest.approx(2 / 3)
    assert sensitivity_at_fp(curve, 2 / 3) == 1.0
    assert sensitivity_at_fp(curve, 0.5) == 0.5
    assert lesion_hits(_froc_images(), 0.5, tolerance_px=5) == [True, True]
    as_dicts = [
        {"image_id": i.image_id, "marks": i.marks, "lesions": i.lesions} for i in _froc_images()
    ]
    assert lesion_hits(as_dicts, 0.5, 5) == [True, True]


# --- report, plots and model card -----------------------------------------------------


def _cohort() -> tuple[list[BreastPrediction], list[FrocImage]]:
    rng = np.random.default_rng(11)
    breasts, images = [], []
    for e in range(80):
        for lat in ("R", "L"):
            cancer = int(lat == "R" and e % 4 == 0)
            dens = "abcd"[e % 4] if not cancer else "abcd"[(e // 4) % 4]
            size = [5.0, 10.0, 20.0][e % 3] if cancer else None
            cnr = [1.0, 2.5, 5.0, 9.0][(e // 4) % 4] if cancer else None
            prob = float(np.clip(0.5 * rng.random() + 0.35 * cancer + 0.1, 0, 1))
            breasts.append(BreastPrediction(f"ex{e}", lat, cancer, prob, dens, None, size, cnr))
            for view in ("CC", "MLO"):
                marks = [(30.0, 30.0, prob)] if cancer else [(80.0, 80.0, prob * 0.8)]
                lesions = [(20.0, 20.0, 40.0, 40.0)] if cancer else []
                images.append(
                    FrocImage(f"{e}{lat}{view}", marks, lesions, [cnr] if cancer else None)
                )
    return breasts, images


def _no_nan(text: str) -> dict:
    def refuse(c: str) -> None:
        raise AssertionError(f"non-JSON constant {c}")

    return json.loads(text, parse_constant=refuse)


def test_evaluate_predictions_writes_json_and_plots(tmp_path, monkeypatch):
    footers = []
    original = Figure.savefig

    def spy(fig, *args, **kwargs):
        footers.append([t.get_text() for t in fig.texts])
        return original(fig, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    breasts, images = _cohort()
    ev = evaluate_predictions(breasts, images, tmp_path / "eval", n_resamples=300)
    for name in ("roc.png", "froc.png", "reliability.png"):
        data = (tmp_path / "eval" / name).read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    assert len(footers) == 3 and all(NOT_FOR_CLINICAL_USE in f for f in footers)
    on_disk = _no_nan((tmp_path / "eval" / "evaluation.json").read_text())
    assert on_disk == ev
    for key in (
        "counts",
        "breast_auc",
        "exam_auc",
        "sensitivity_at_specificity",
        "calibration",
        "froc",
        "by_density",
        "by_size",
        "by_cnr",
        "difficulty",
    ):
        assert key in ev
    assert ev["counts"] == {
        "exams": 80,
        "breasts": 160,
        "positives": 20,
        "negatives": 140,
        "images": 320,
        "lesions": 40,
    }
    b = ev["breast_auc"]
    assert b["ci_low"] <= b["auc"] <= b["ci_high"] and b["auc"] > 0.8
    assert ev["warning"] is None  # 20 cancers, 140 (breasts) and 60 (exams) without
    assert ev["exam_auc"]["n_pos"] == 20 and ev["exam_auc"]["n_neg"] == 60
    assert [r["specificity"] for r in ev["sensitivity_at_specificity"]] == [0.9, 0.95]
    assert set(ev["froc"]["sensitivity_at_fp"]) == {"0.25", "0.5", "1", "2"}
    assert ev["by_density"]["a"]["n_pos"] == 5
    assert [r["n_pos"] for r in ev["by_size"]] == [7, 7, 6]
    assert all(r["n_neg"] == 140 for r in ev["by_size"])
    assert [r["n_pos"] for r in ev["by_cnr"]] == [5, 5, 5, 5]
    assert [r["n_lesions"] for r in ev["by_cnr"]] == [10, 10, 10, 10]
    d = ev["difficulty"]
    assert (d["frac_cnr_below_3"], d["median_cnr"], d["frac_dense_cd"]) == (0.5, 3.75, 0.5)
    assert d["frac_below_8mm"] == 0.35


def test_strata_with_one_class_report_null_auc(tmp_path):
    breasts = [
        BreastPrediction("e1", "R", 1, 0.9, "a"),
        BreastPrediction("e1", "L", 0, 0.2, "b"),
        BreastPrediction("e2", "R", 0, 0.4, "b"),
        BreastPrediction("e2", "L", 1, 0.7, "c"),
    ]
    ev = evaluate_predictions(breasts, [], tmp_path, n_resamples=50)
    assert ev["by_density"]["a"] == {
        "auc": None,
        "ci_low": None,
        "ci_high": None,
        "n_pos": 1,
        "n_neg": 0,
        "too_few": True,
    }
    assert ev["froc"] is None and ev["by_cnr"][0]["hit_rate_at_1fp"] is None
    assert (tmp_path / "froc.png").read_bytes().startswith(PNG_MAGIC)
    _no_nan((tmp_path / "evaluation.json").read_text())


def test_model_card_states_intended_use_and_auc_with_ci(tmp_path):
    breasts, images = _cohort()
    ev = evaluate_predictions(breasts, images, tmp_path, n_resamples=200)
    manifest = {
        "name": "mammodesk-demo",
        "version": "0.3.1",
        "training_data": {"source": "synthetic phantom cohort", "studies": 1200},
        "input": {"views": ["CC", "MLO"], "size": [1024, 832]},
        "preprocessing": "crop to breast, resize, scale to 0..1",
        "outputs": ["exam score", "breast probability", "marks"],
    }
    card = render_model_card(manifest, ev)
    head = card.split("\n## ")[0]
    assert (
        "**Intended use: research and demonstration; synthetic data only; "
        "not for clinical use.**" in head
    )
    assert NOT_FOR_CLINICAL_USE in head and "0.3.1" in head
    b = ev["breast_auc"]
    assert f"{b['auc']:.3f} (95% CI {b['ci_low']:.3f}–{b['ci_high']:.3f})" in card
    assert "Warning" not in card  # enough cancers and non-cancers for the headline figures
    assert "**studies**: 1200" in card and "crop to breast" in card
    assert "50% of cancers have CNR < 3" in card
    assert "No validation on real patients" in card


def test_few_cases_warning_names_each_small_sample_and_the_threshold():
    assert few_cases_warning((1, 2, "breasts")) == (
        "only 1 positive and 2 negative breasts; with fewer than 10 of either class "
        "the AUC means little and no 95% CI is given"
    )
    assert few_cases_warning((10, 10, "breasts"), (10, 500, "exams")) is None
    assert str(few_cases_warning((500, 9, "breasts"))).startswith(
        "only 500 positive and 9 negative")
    both = str(few_cases_warning((1, 5, "breasts"), (12, 40, "exams"), (1, 2, "exams")))
    assert both.startswith("only 1 positive and 5 negative breasts, and 1 positive and 2 "
                           "negative exams;")


def _three_exams() -> list[BreastPrediction]:
    """Three women, one cancer, perfectly separated: what a tiny test set looks like."""
    probs = {("e1", "R"): 0.9, ("e1", "L"): 0.2, ("e2", "R"): 0.1, ("e2", "L"): 0.3,
             ("e3", "R"): 0.15, ("e3", "L"): 0.25}
    return [BreastPrediction(e, lat, int(p > 0.5), p, "b") for (e, lat), p in probs.items()]


def test_a_tiny_test_set_warns_and_gives_no_interval_that_looks_certain(tmp_path):
    breasts = _three_exams()
    y = np.array([b.label for b in breasts])
    p = np.array([b.prob for b in breasts])
    assert bootstrap_auc_ci(y, p, 300) == (1.0, 1.0)  # what would have been shown as 1.0-1.0
    ev = evaluate_predictions(breasts, [], tmp_path, n_resamples=300)
    assert ev["warning"] == (
        "only 1 positive and 5 negative breasts, and 1 positive and 2 negative exams; "
        "with fewer than 10 of either class the AUC means little and no 95% CI is given"
    )
    for level in ("breast_auc", "exam_auc"):
        assert ev[level]["auc"] == 1.0 and ev[level]["too_few"] is True
        assert ev[level]["ci_low"] is None and ev[level]["ci_high"] is None
    assert ev["settings"]["min_cases_per_class"] == 10
    assert _no_nan((tmp_path / "evaluation.json").read_text())["warning"] == ev["warning"]


def test_model_card_of_a_tiny_test_set_carries_the_warning_by_its_auc(tmp_path):
    ev = evaluate_predictions(_three_exams(), [], tmp_path, n_resamples=300)
    card = render_model_card({"name": "m", "version": "1"}, ev)
    evaluation = card.split("## Evaluation\n")[1].split("\n## ")[0]
    assert f"**Warning: {ev['warning']}.**" in evaluation
    assert ("- Breast-level AUC: 1.000 (no 95% CI: fewer than 10 cancers or non-cancers), "
            "1 cancers / 5 non-cancers") in evaluation
    assert "1.000–1.000" not in card


def test_plots_need_no_pyplot_and_no_display(tmp_path):
    code = (
        "import sys; from pathlib import Path; import numpy as np\n"
        "from engine.ai.evaluation import plots\n"
        "plots.plot_roc({'x': (np.array([0, 1.0]), np.array([0, 1.0]), 0.5)}, "
        "Path(sys.argv[1]), 't')\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "r.png")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.png").read_bytes().startswith(PNG_MAGIC)


def test_an_exam_outside_the_training_is_still_measured_and_counted():
    """The evaluation measures the model on all it read: the domain check only
    decides what a reader is shown."""
    from pathlib import Path

    from engine.ai.datasets.records import ImageRecord
    from engine.ai.evaluate_model import _collect_breasts, _Collected
    from engine.ai.results import BreastResult, ExamResult

    recs = [ImageRecord(Path(f"{s}{v}.dcm"), "e1", "p1", s, v, int(s == "L"))
            for s in "RL" for v in ("CC", "MLO")]
    result = ExamResult("1.2.3", "m", "1.1.0", "onnxruntime", "CPU", "2024-05-01T10:00:00+00:00",
                        81.0, 9, "c", [BreastResult("R", 0.2, "b"), BreastResult("L", 0.81, "c")],
                        [])
    result.withhold(["LCC: image features unlike the training images"])
    got = _Collected()
    _collect_breasts("e1", recs, result, got)
    assert [(p.laterality, p.label, p.prob) for p in got.preds] == [("R", 0, 0.2), ("L", 1, 0.81)]
    assert got.outside_training == 1 and not got.failed
