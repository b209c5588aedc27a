"""A finding written as one line of words, as the command line takes it:

    R mass oval circumscribed 12mm 10:00 middle 40mm-from-nipple

The side comes first (R, L, right or left), then the finding type (mass,
calcifications, asymmetry, architectural distortion - also "distortion" -
or other), then in any order: BI-RADS lexicon descriptors of that type and
associated features (as in engine.reading.birads, hyphenated: fine-pleomorphic,
skin-retraction), the size ("12mm"), the clock-face position ("10", "10:00",
"10:30", or retroareolar, central, axillary-tail), the depth (anterior,
middle, posterior) and the distance from the nipple ("40mm-from-nipple").
Words are case-insensitive.  Also here: the finding as a person reads it.
"""

from __future__ import annotations

import re

from engine.errors import MammoDeskError
from engine.library.reads import Finding
from engine.reading.birads import (
    ASSOCIATED_FEATURES,
    DEPTHS,
    FINDING_TYPES,
    LEXICON,
    REGIONS,
    SIDE_NAMES,
)

SIDE_WORDS = {"r": "R", "right": "R", "l": "L", "left": "L"}
TYPE_WORDS = {
    **{t: t for t in FINDING_TYPES if " " not in t},
    "distortion": "architectural distortion",
    "calcification": "calcifications",
}
NIPPLE_SUFFIX = "-from-nipple"
_MM = re.compile(r"^(\d+(?:\.\d+)?)mm$")
_CLOCK = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")
EXAMPLE = "R mass oval circumscribed 12mm 10:00 middle 40mm-from-nipple"


def _region(word: str) -> str | None:
    spaced = word.replace("-", " ")
    return spaced if spaced in REGIONS else None


def _clock(word: str) -> str | None:
    """"10" / "10:00" / "10:30" as "H:MM"; a region's name; None if neither."""
    if region := _region(word):
        return region
    m = _CLOCK.match(word)
    if not m:
        return None
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if not 1 <= hour <= 12 or minute > 59:
        return None
    return f"{hour}:{minute:02d}"


def _millimetres(word: str) -> float | None:
    m = _MM.match(word)
    return float(m.group(1)) if m else None


def _expected(kind: str) -> str:
    words = sorted({w for group in LEXICON[kind].values() for w in group})
    descriptors = f"a descriptor of {kind} ({', '.join(words)}), " if words else ""
    return (f"expected {descriptors}an associated feature ({', '.join(ASSOCIATED_FEATURES)}), "
            f"a size such as 12mm, a clock-face position such as 10:00, a depth "
            f"({', '.join(DEPTHS)}) or a distance such as 40mm{NIPPLE_SUFFIX}")


def parse_finding(text: str) -> Finding:
    """The Finding a line of words describes; MammoDeskError (one line, naming the
    word and what was expected there) for anything else."""
    words = [w.lower() for w in text.split()]
    if not words:
        raise MammoDeskError(f"a finding is a line of words such as {EXAMPLE!r}")
    side = SIDE_WORDS.get(words[0])
    if side is None:
        raise MammoDeskError(f"a finding starts with its side (R or L), not {words[0]!r} "
                             f"(e.g. {EXAMPLE!r})")
    rest = words[1:]
    if rest[:2] == ["architectural", "distortion"]:
        kind, rest = "architectural distortion", rest[2:]
    elif rest and rest[0] in TYPE_WORDS:
        kind, rest = TYPE_WORDS[rest[0]], rest[1:]
    else:
        got = repr(rest[0]) if rest else "nothing"
        raise MammoDeskError(f"after the side a finding names its type ("
                             f"{', '.join(FINDING_TYPES)}), not {got}")
    finding = Finding(side, kind)
    allowed = {w for group in LEXICON[kind].values() for w in group} | set(ASSOCIATED_FEATURES)
    for word in rest:
        if word in allowed:
            if word not in finding.descriptors:
                finding.descriptors.append(word)
        elif word in DEPTHS:
            _once(finding.depth, "depth", word)
            finding.depth = word
        elif (distance := _millimetres(word.removesuffix(NIPPLE_SUFFIX))) is not None \
                and word.endswith(NIPPLE_SUFFIX):
            _once(finding.nipple_mm, "distance from the nipple", word)
            finding.nipple_mm = distance
        elif (size := _millimetres(word)) is not None:
            _once(finding.size_mm, "size", word)
            finding.size_mm = size
        elif (clock := _clock(word)) is not None:
            _once(finding.clock, "clock-face position", word)
            finding.clock = clock
        else:
            raise MammoDeskError(f"unknown word {word!r} in a {kind} finding: {_expected(kind)}")
    problems = finding.problems()
    if problems:
        raise MammoDeskError(problems[0])
    return finding


def _once(current: object, what: str, word: str) -> None:
    if current not in (None, ""):
        raise MammoDeskError(f"a finding has one {what}; {word!r} gives it a second time")


def format_finding(f: Finding) -> str:
    """The finding as parse_finding reads it back (its note and free-text
    location are not part of that form)."""
    words = [f.side, f.kind, *f.descriptors]
    if f.size_mm:
        words.append(f"{f.size_mm:g}mm")
    if f.clock:
        words.append(f.clock.replace(" ", "-"))
    if f.depth:
        words.append(f.depth)
    if f.nipple_mm:
        words.append(f"{f.nipple_mm:g}mm{NIPPLE_SUFFIX}")
    return " ".join(words)


def describe_finding(f: Finding) -> str:
    """The finding in words for a report or a list: "left mass, oval,
    circumscribed, 12 mm, 10:00, middle depth, 40 mm from the nipple"."""
    parts = [f"{SIDE_NAMES.get(f.side, f.side)} {f.kind}", *f.descriptors]
    if f.size_mm:
        parts.append(f"{f.size_mm:g} mm")
    if f.clock:
        hour = f.clock.removesuffix(":00")
        parts.append(f"{hour} o'clock" if f.clock[0].isdigit() else f.clock)
    if f.depth:
        parts.append(f"{f.depth} depth")
    if f.nipple_mm:
        parts.append(f"{f.nipple_mm:g} mm from the nipple")
    for free in (f.location, f.note):
        if free.strip():
            parts.append(free.strip())
    return ", ".join(parts)
