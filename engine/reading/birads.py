"""The ACR BI-RADS Atlas, 5th edition (mammography), as the read uses it:
assessment categories, breast composition, management recommendations, the
lexicon's finding descriptors, and the checks a read must pass before it is
signed.  Pure data and rules: no storage, no window.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

ASSESSMENTS: dict[str, str] = {
    "0": "0 - incomplete: need additional imaging evaluation",
    "1": "1 - negative",
    "2": "2 - benign",
    "3": "3 - probably benign",
    "4A": "4A - low suspicion for malignancy",
    "4B": "4B - moderate suspicion for malignancy",
    "4C": "4C - high suspicion for malignancy",
    "5": "5 - highly suggestive of malignancy",
    "6": "6 - known biopsy-proven malignancy",
}
# Reads saved before the subdivisions were offered hold a plain 4: shown and
# reported as such, never offered for a new read.
LEGACY_ASSESSMENTS: dict[str, str] = {"4": "4 - suspicious (not subdivided)"}
ALL_ASSESSMENTS = {**ASSESSMENTS, **LEGACY_ASSESSMENTS}

# From least to most abnormal: the overall assessment of an exam is the most
# abnormal of its two breasts (the Atlas's order 1, 2, 3, 6, 0, 4, 5).
SEVERITY = ("1", "2", "3", "6", "0", "4A", "4", "4B", "4C", "5")

DENSITY: dict[str, str] = {
    "a": "a - almost entirely fatty",
    "b": "b - scattered areas of fibroglandular density",
    "c": "c - heterogeneously dense",
    "d": "d - extremely dense",
}

RECOMMENDATIONS: dict[str, str] = {
    "routine": "routine screening mammography",
    "short-interval": "short-interval (6-month) follow-up",
    "recall": "recall for additional imaging evaluation",
    "biopsy": "tissue diagnosis (biopsy)",
    "excision": "surgical excision when clinically appropriate",
    "known-cancer": "known cancer: management as clinically appropriate",
}

# The management that agrees with each assessment.
MANAGEMENT: dict[str, frozenset[str]] = {
    "0": frozenset({"recall"}),
    "1": frozenset({"routine"}),
    "2": frozenset({"routine"}),
    "3": frozenset({"short-interval"}),
    "4": frozenset({"biopsy"}),
    "4A": frozenset({"biopsy"}),
    "4B": frozenset({"biopsy"}),
    "4C": frozenset({"biopsy"}),
    "5": frozenset({"biopsy"}),
    "6": frozenset({"excision", "known-cancer"}),
}

# A screening exam is "positive" (an abnormal interpretation, a recall) when
# its overall assessment is one of these (the Atlas's audit definition).
POSITIVE_AT_SCREENING = frozenset({"0", "3", "4", "4A", "4B", "4C", "5"})
# Tissue diagnosis recommended (PPV2's denominator).
BIOPSY_RECOMMENDED = frozenset({"4", "4A", "4B", "4C", "5"})
# A breast given one of these needs at least one finding recorded on its side.
NEEDS_FINDING = frozenset({"3", "4", "4A", "4B", "4C", "5"})

FINDING_TYPES = ("mass", "calcifications", "asymmetry", "architectural distortion", "other")

# The mammography lexicon's descriptors, per finding type and property.
LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "mass": {
        "shape": ("oval", "round", "irregular"),
        "margin": ("circumscribed", "obscured", "microlobulated", "indistinct", "spiculated"),
        "density": ("high-density", "equal-density", "low-density", "fat-containing"),
    },
    "calcifications": {
        "typically benign": ("skin", "vascular", "coarse", "popcorn", "rod-like", "round",
                             "rim", "dystrophic", "milk-of-calcium", "suture"),
        "suspicious morphology": ("amorphous", "coarse-heterogeneous", "fine-pleomorphic",
                                  "fine-linear", "fine-linear-branching"),
        "distribution": ("diffuse", "regional", "grouped", "linear", "segmental"),
    },
    "asymmetry": {"kind": ("global", "focal", "developing")},
    "architectural distortion": {},
    "other": {
        "kind": ("intramammary-lymph-node", "skin-lesion", "solitary-dilated-duct"),
    },
}
ASSOCIATED_FEATURES = ("skin-retraction", "nipple-retraction", "skin-thickening",
                       "trabecular-thickening", "axillary-adenopathy")
DEPTHS = ("anterior", "middle", "posterior")
# Where a finding lies when not at a clock-face hour (Finding.clock).
REGIONS = ("retroareolar", "central", "axillary tail")
SIDES = ("R", "L")
SIDE_NAMES = {"R": "right", "L": "left"}


class _FindingLike(Protocol):
    side: str
    kind: str


class _ReadLike(Protocol):
    birads: dict[str, str | None]
    density: dict[str, str | None]
    recommendation: str | None

    @property
    def findings(self) -> Iterable[_FindingLike]: ...


def severity(category: str | None) -> int:
    """Rank in SEVERITY (-1 for none or an unknown value)."""
    return SEVERITY.index(category) if category in SEVERITY else -1


def overall(assessments: dict[str, str | None]) -> str | None:
    """The exam's overall assessment: the most abnormal breast's, None if a
    breast has none."""
    values = [assessments.get(s) for s in SIDES]
    if any(v is None or v not in ALL_ASSESSMENTS for v in values):
        return None
    return max(values, key=severity)


def descriptor_problem(kind: str, words: Iterable[str]) -> str | None:
    """Why a finding's descriptors do not belong to its type, or None."""
    allowed = {w for group in LEXICON.get(kind, {}).values() for w in group}
    allowed |= set(ASSOCIATED_FEATURES)
    for word in words:
        if word not in allowed:
            known = ", ".join(sorted(allowed)) or "none besides associated features"
            return f"{word!r} is not a BI-RADS descriptor of {kind} (known: {known})"
    return None


def incomplete_problems(read: _ReadLike) -> list[str]:
    """What the read lacks to be a complete assessment: each breast's BI-RADS
    category and composition (the recommendation is checked at sign-off)."""
    out: list[str] = []
    for side in SIDES:
        name = SIDE_NAMES[side]
        if read.birads.get(side) is None:
            out.append(f"no BI-RADS assessment for the {name} breast")
        if read.density.get(side) is None:
            out.append(f"no breast composition (density) for the {name} breast")
    return out


def clock_problem(clock: str) -> str | None:
    """Why a finding's clock-face position is not "H:MM" (hour 1 to 12) or a
    region of REGIONS, or None."""
    if not clock or clock in REGIONS:
        return None
    hour, _, minute = clock.partition(":")
    if (hour.isdigit() and 1 <= int(hour) <= 12 and len(minute) == 2 and minute.isdigit()
            and int(minute) < 60):
        return None
    return (f"a finding's clock-face position is H:MM from 1:00 to 12:59 or one of "
            f"{', '.join(REGIONS)}, not {clock!r}")


def signoff_problems(read: _ReadLike) -> list[str]:
    """Everything that stops this read from being signed, one line each (empty: it may be)."""
    out = incomplete_problems(read)
    if not read.recommendation:
        out.append("no management recommendation")
    findings = list(read.findings)
    for side in SIDES:
        name, category = SIDE_NAMES[side], read.birads.get(side)
        on_side = [f for f in findings if f.side == side]
        if category in NEEDS_FINDING and not on_side:
            out.append(f"BI-RADS {category} for the {name} breast needs at least one finding "
                       f"on that side")
        if category in LEGACY_ASSESSMENTS:
            out.append(f"BI-RADS {category} for the {name} breast is not subdivided: choose "
                       f"4A, 4B or 4C")
        if category == "1" and on_side:
            out.append(f"BI-RADS 1 (negative) for the {name} breast allows no finding on that "
                       f"side ({len(on_side)} recorded)")
    total = overall(read.birads)
    rec = read.recommendation
    if total is not None and rec and rec not in MANAGEMENT[total]:
        expected = " or ".join(RECOMMENDATIONS[r] for r in sorted(MANAGEMENT[total]))
        out.append(f"the recommendation ({RECOMMENDATIONS.get(rec, rec)}) does not agree with "
                   f"the overall assessment BI-RADS {total}: expected {expected}")
    return out
