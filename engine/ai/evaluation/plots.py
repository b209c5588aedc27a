"""Evaluation figures as PNG files.

Matplotlib's object-oriented API only (Figure + Agg canvas, never pyplot),
so plotting works headless and from worker threads.  Every figure carries
the not-for-clinical-use footer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from engine.ai.evaluation.froc import sensitivity_at_fp
from engine.ai.results import NOT_FOR_CLINICAL_USE

_SIZE = (6.0, 5.2)
_DPI = 110


def _figure() -> Figure:
    fig = Figure(figsize=_SIZE, dpi=_DPI)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.012, NOT_FOR_CLINICAL_USE, ha="center", va="bottom", fontsize=7, color="0.35")
    return fig


def _save(fig: Figure, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.subplots_adjust(bottom=0.14)
    fig.savefig(path, format="png")


def _empty_note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")


def plot_roc(
    curves: dict[str, tuple[np.ndarray, np.ndarray, float]], path: Path, title: str
) -> None:
    """ROC curves, one per name -> (fpr, tpr, auc); the chance diagonal dashed."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1)
    for name, (fpr, tpr, auc) in curves.items():
        label = name if auc is None else f"{name} (AUC {auc:.3f})"
        ax.step(np.asarray(fpr), np.asarray(tpr), where="post", linewidth=1.6, label=label)
    if curves:
        ax.legend(loc="lower right", fontsize=8)
    else:
        _empty_note(ax, "No curve: both classes are needed")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False-positive rate (1 - specificity)")
    ax.set_ylabel("Sensitivity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_froc(curve: dict | None, path: Path, title: str) -> None:
    """Lesion sensitivity against false marks per image (0..4), 1 FP/image marked."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    fppi = np.asarray(curve["fp_per_image"] if curve else [], dtype=np.float64)
    sens = np.asarray(curve["sensitivity"] if curve else [], dtype=np.float64)
    if curve is not None and fppi.size:
        ax.step(np.r_[0.0, fppi], np.r_[0.0, sens], where="post", linewidth=1.6)
        s1 = sensitivity_at_fp(curve, 1.0)
        ax.axvline(1.0, linestyle="--", color="0.6", linewidth=1)
        ax.plot([1.0], [s1], marker="o", color="C3")
        ax.annotate(
            f"{s1:.2f} at 1 FP/image",
            (1.0, s1),
            textcoords="offset points",
            xytext=(8, -14),
            fontsize=8,
        )
    else:
        _empty_note(ax, "No lesion marks to evaluate")
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False-positive marks per image")
    ax.set_ylabel("Lesion sensitivity")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_reliability(calib: dict | None, path: Path, title: str) -> None:
    """Observed cancer fraction against mean predicted probability per bin."""
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=1, label="Perfect calibration")
    calib = calib or {}
    bins = [b for b in calib.get("bins", []) if b.get("count")]
    if bins:
        mp = [b["mean_prob"] for b in bins]
        fp = [b["frac_pos"] for b in bins]
        size = np.array([b["count"] for b in bins], dtype=np.float64)
        ax.plot(mp, fp, color="C0", linewidth=1.2)
        ax.scatter(
            mp, fp, s=12 + 140 * size / size.max(), color="C0", zorder=3, label="Bins (area: cases)"
        )
        ece = calib.get("ece")
        if ece is not None:
            ax.text(0.04, 0.92, f"ECE {ece:.3f}", transform=ax.transAxes, fontsize=9)
        ax.legend(loc="lower right", fontsize=8)
    else:
        _empty_note(ax, "No predictions to calibrate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("Mean predicted probability")
    ax.set_ylabel("Observed fraction of cancers")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)
