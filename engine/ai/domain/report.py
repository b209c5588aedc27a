"""The validation table and the model card section "Outside its training"."""

from __future__ import annotations

import re
from typing import Any

SECTION = "## Outside its training"


def table_lines(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown table of flag rates, one row per kind of input."""
    lines = [
        "| Input | Studies | Refused before the model | Analysed | Flagged | Flag rate |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate = f"{100 * r['rate']:.1f}%" if r["analysed"] else "-"
        lines.append(
            f"| {r['label']} | {r['studies']} | {r['refused']} | {r['analysed']} "
            f"| {r['flagged']} | {rate} |"
        )
    return lines


def _in_distribution(v: dict[str, Any]) -> list[str]:
    groups = v.get("groups", {})
    rates = v.get("in_distribution", {})
    out = []
    for name, what in (
        ("fit", "fitted on"),
        ("threshold", "thresholds set on"),
        ("check", "checked on"),
    ):
        r = rates.get(name)
        if r:
            out.append(
                f"- {what.capitalize()} {groups.get(name, name)}: {r['flagged']} of "
                f"{r['studies']} studies flagged ({100 * r['rate']:.1f}%)"
            )
    return out


def card_section(check: dict[str, Any]) -> str:
    """The model card section for a domain_check.json content."""
    v = check.get("validation", {})
    lines = [
        SECTION,
        "",
        "The package carries a domain check (`domain_check.json`): for every analysed view it "
        "measures how far the model's pooled backbone features "
        f"(`{check.get('layer', '')}`) lie from those of in-distribution validation views "
        "(Mahalanobis distance, Ledoit-Wolf shrunk covariance, per view position) and checks "
        "simple acquisition statistics of the prepared input (breast area, breast brightness "
        "mean, spread and 5th/95th percentiles, noise level from a high-pass residual, "
        "saturated area) against the ranges seen in validation.  A study is flagged as outside "
        "the model's training when any of its analysed views is.",
        "",
        f"Thresholds were set so that no more than {100 * v.get('target_study_rate', 0.02):.0f}% "
        "of in-distribution studies are flagged:",
        "",
        *_in_distribution(v),
        "",
    ]
    if v.get("note"):
        lines += [str(v["note"]), ""]
    outside = v.get("outside")
    if outside:
        lines += [
            "Measured flag rates (`python -m engine.ai.domain.validate`; refused views are those "
            "the preprocessing already declines, e.g. no breast found):",
            "",
            *table_lines(outside),
            "",
        ]
    lines += [
        "What it cannot do: it knows only the synthetic phantoms it was fitted on.  It has "
        "not been run on real mammograms (none are available here); a flag means the model's "
        "output means nothing for that study, not that the image is bad.  Passing the check "
        "does not make an output trustworthy: inputs that land inside the phantoms' feature "
        "and statistics ranges pass unnoticed (a smoother tissue texture did in about half "
        "the studies above).  The non-breast row comes from eight pydicom test images (CT, "
        "MR and NM slices and one OT image, no projection radiographs), cropped and "
        "mirrored at random.  Every rate above was measured on a few dozen to a few hundred "
        "generated studies only.",
        "",
    ]
    return "\n".join(lines)


def with_section(card: str, section: str) -> str:
    """``card`` with its "Outside its training" section replaced or appended."""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(card):
        return pattern.sub(lambda _m: section, card, count=1)
    return card.rstrip("\n") + "\n\n" + section
