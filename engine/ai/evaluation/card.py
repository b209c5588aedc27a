"""Model card (Markdown) from a model manifest and an evaluation result.

The card states only what the numbers show: every headline figure comes with
its confidence interval and sample size, and missing figures say why.
"""

from __future__ import annotations

import json
from typing import Any

from engine.ai.evaluation.metrics import MIN_CASES_PER_CLASS, too_few_cases
from engine.ai.results import NOT_FOR_CLINICAL_USE
from engine.notices import NOT_FOR_CLINICAL_USE_SHORT

INTENDED_USE = f"research and demonstration; synthetic data only; {NOT_FOR_CLINICAL_USE_SHORT}"

LIMITATIONS = (
    "Trained and evaluated only on synthetic phantom mammograms; its behaviour on real "
    "mammograms is unknown.",
    "No validation on real patients has been done.",
    "Not reviewed or cleared by any regulator; not a medical device.",
    "Confidence intervals are percentile bootstrap intervals over exams; they describe "
    "sampling variation within the synthetic test set only.",
)


def _val(v: Any) -> str:
    if isinstance(v, dict | list):
        return json.dumps(v, sort_keys=True)
    return "—" if v is None else str(v)


def _section(title: str, value: Any) -> list[str]:
    lines = [f"## {title}", ""]
    if value is None or value == {} or value == []:
        lines.append("Not stated.")
    elif isinstance(value, dict):
        lines += [f"- **{k}**: {_val(v)}" for k, v in value.items()]
    elif isinstance(value, list):
        lines += [f"- {_val(v)}" for v in value]
    else:
        lines.append(str(value))
    return [*lines, ""]


def _num(v: Any, nd: int = 3) -> str:
    return "—" if v is None else f"{v:.{nd}f}"


def _pct(v: Any) -> str:
    return "—" if v is None else f"{100 * v:.0f}%"


def _auc(block: dict | None) -> str:
    if not block or block.get("auc") is None:
        return "not computed (both cancers and non-cancers are needed)"
    text = f"{block['auc']:.3f}"
    if block.get("ci_low") is not None:
        text += f" (95% CI {block['ci_low']:.3f}–{block['ci_high']:.3f})"
    elif too_few_cases(block["n_pos"], block["n_neg"]):
        text += f" (no 95% CI: fewer than {MIN_CASES_PER_CLASS} cancers or non-cancers)"
    return text + f", {block['n_pos']} cancers / {block['n_neg']} non-cancers"


def _headline(ev: dict) -> list[str]:
    c = ev.get("counts", {})
    lines = [
        "## Evaluation",
        "",
        f"Evaluation set: {c.get('exams', 0)} exams, {c.get('breasts', 0)} breasts "
        f"({c.get('positives', 0)} with cancer, {c.get('negatives', 0)} without), "
        f"{c.get('images', 0)} images with {c.get('lesions', 0)} outlined cancers "
        "(a cancer seen in two views counts twice).",
        "",
    ]
    if ev.get("warning"):
        lines += [f"**Warning: {ev['warning']}.**", ""]
    lines += [
        f"- Breast-level AUC: {_auc(ev.get('breast_auc'))}",
        f"- Exam-level AUC (exam score = highest breast probability): {_auc(ev.get('exam_auc'))}",
    ]
    for row in ev.get("sensitivity_at_specificity", []):
        lines.append(
            f"- Sensitivity at {_pct(row['specificity'])} specificity (breast level): "
            f"{_pct(row['sensitivity'])} (threshold {_num(row['threshold'], 4)})"
        )
    cal = ev.get("calibration") or {}
    lines.append(f"- Expected calibration error (10 equal-width bins): {_num(cal.get('ece'))}")
    froc = ev.get("froc")
    if froc:
        pts = ", ".join(f"{_pct(v)} at {k} FP/image" for k, v in froc["sensitivity_at_fp"].items())
        lines.append(f"- FROC lesion sensitivity: {pts}")
    else:
        lines.append("- FROC: not computed (no marked lesions given)")
    return [*lines, ""]


def _few(row: dict) -> str:
    if row.get("auc") is None:
        return "one class missing"
    if too_few_cases(row["n_pos"], row["n_neg"]):
        return "too few cases to conclude"
    return ""


def _ci(row: dict) -> str:
    if row.get("ci_low") is None:
        return "—"
    return f"{row['ci_low']:.3f}–{row['ci_high']:.3f}"


def _tables(ev: dict) -> list[str]:
    lines = [
        "## Results by subgroup",
        "",
        "### By breast density (cancers and non-cancers of that density)",
        "",
        "| Density | Cancers | Non-cancers | AUC | 95% CI | Note |",
        "|---|---|---|---|---|---|",
    ]
    for d, row in (ev.get("by_density") or {}).items():
        lines.append(
            f"| {d} | {row['n_pos']} | {row['n_neg']} | {_num(row['auc'])} | "
            f"{_ci(row)} | {_few(row)} |"
        )
    lines += [
        "",
        "### By lesion size (cancers of that size against all non-cancers)",
        "",
        "| Size | Cancers | AUC | 95% CI | Median CNR | CNR range | Note |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in ev.get("by_size") or []:
        rng = "—" if row["cnr_min"] is None else f"{row['cnr_min']:.1f}–{row['cnr_max']:.1f}"
        lines.append(
            f"| {row['label']} | {row['n_pos']} | {_num(row['auc'])} | {_ci(row)} | "
            f"{_num(row['cnr_median'], 1)} | {rng} | {_few(row)} |"
        )
    lines += [
        "",
        "### Detection by lesion contrast-to-noise ratio (CNR)",
        "",
        "| CNR | Cancers | Median probability | Lesions | Found at 1 FP/image |",
        "|---|---|---|---|---|",
    ]
    for row in ev.get("by_cnr") or []:
        n_les = "—" if row["n_lesions"] is None else row["n_lesions"]
        lines.append(
            f"| {row['label']} | {row['n_pos']} | {_num(row['median_prob'])} | "
            f"{n_les} | {_pct(row['hit_rate_at_1fp'])} |"
        )
    return [*lines, ""]


def _difficulty(ev: dict) -> list[str]:
    d = ev.get("difficulty") or {}
    parts = []
    if d.get("frac_cnr_below_3") is not None:
        parts.append(f"{_pct(d['frac_cnr_below_3'])} of cancers have CNR < 3")
    if d.get("median_cnr") is not None:
        parts.append(f"the median CNR of cancers is {d['median_cnr']:.1f}")
    if d.get("frac_dense_cd") is not None:
        parts.append(f"{_pct(d['frac_dense_cd'])} of cancers are in dense breasts (density c or d)")
    if d.get("frac_below_8mm") is not None:
        parts.append(f"{_pct(d['frac_below_8mm'])} of cancers are smaller than 8 mm")
    text = "; ".join(parts) + "." if parts else "Not measured (no lesion data given)."
    return ["## How hard the test set is", "", text[:1].upper() + text[1:], ""]


def _density(block: dict | None) -> list[str]:
    if not block or not block.get("n"):
        return []
    return [
        "## Breast density",
        "",
        f"ACR density a-d predicted per breast against the reference on {block['n']} breasts: "
        f"{_pct(block['accuracy'])} exactly right, {_pct(block['within_one'])} within one "
        "category.",
        "",
    ]


def render_model_card(manifest: dict, evaluation: dict) -> str:
    """The model card as Markdown."""
    name = manifest.get("name", "Unnamed model")
    lines = [
        f"# Model card: {name}",
        "",
        f"**Intended use: {INTENDED_USE}.**",
        "",
        f"> {NOT_FOR_CLINICAL_USE}",
        "",
        f"- Name: {name}",
        f"- Version: {manifest.get('version', 'unversioned')}",
        "",
    ]
    lines += _section("Training data", manifest.get("training_data"))
    lines += _section("Input", manifest.get("input"))
    lines += _section("Preprocessing", manifest.get("preprocessing"))
    lines += _section("Outputs", manifest.get("outputs"))
    lines += _section("Operating points", manifest.get("operating_points"))
    lines += _headline(evaluation)
    lines += _tables(evaluation)
    lines += _difficulty(evaluation)
    lines += _density(evaluation.get("density"))
    lines += _section("Evaluation data", manifest.get("evaluation_data"))
    lines += ["## Limitations", "", *(f"- {t}" for t in LIMITATIONS), ""]
    return "\n".join(lines)
