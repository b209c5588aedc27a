"""The audit's figures against the combined criteria of Miglioretti et al.
(2015) (engine/reading/audit_benchmarks.py), as the audit window shows them:
each measure's acceptable range, its text and the options behind it, a
measure's text marked when it lies outside its range, and whether each group
of criteria is met.  No Qt: the window only places these texts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.reading.audit_benchmarks import MIGLIORETTI_2015, acceptable
from engine.reporting.audit_pdf import KINDS, shown

if TYPE_CHECKING:
    from engine.reading.audit_measures import Measures

NONE = "—"  # a measure without a value
Range = tuple[float | None, float | None]  # inclusive; None: open


def value_text(value: object, kind: str) -> str:
    return NONE if value is None else shown(value, kind)


def _within(value: float, bounds: Any) -> bool:
    lo, hi = bounds
    return (lo is None or value >= lo) and (hi is None or value <= hi)


def _options(key: str) -> list[dict[str, Any]]:
    """The Miglioretti 2015 options that give `key` a range."""
    return [o for opts in MIGLIORETTI_2015["criteria"].values() for o in opts if key in o]


def acceptable_range(key: str, values: dict[str, Any] | None = None) -> Range | None:
    """The acceptable range of a measure: over the options whose other measures
    `values` meets (all options when none does, or without values)."""
    options = _options(key)
    if not options:
        return None
    fitting = [o for o in options if values is not None and all(
        values.get(k) is not None and _within(values[k], r) for k, r in o.items() if k != key)]
    lows, highs = zip(*(o[key] for o in fitting or options), strict=True)
    return (None if None in lows else min(lows), None if None in highs else max(highs))


def range_text(bounds: Range, kind: str) -> str:
    scale, unit = (100.0, "%") if kind == "f" else (1.0, "")
    lo, hi = (None if b is None else f"{b * scale:g}" for b in bounds)
    if lo is not None and hi is not None:
        return f"{lo}-{hi}{unit}"
    return f"≥ {lo}{unit}" if lo is not None else f"≤ {hi}{unit}"


def cell(m: Measures | None, key: str) -> tuple[str, bool]:
    """A measure's text, and whether it lies outside its acceptable range."""
    value = None if m is None else getattr(m, key)
    text = value_text(value, KINDS[key])
    bounds = acceptable_range(key, vars(m)) if m is not None else None
    if value is None or bounds is None or _within(float(value), bounds):
        return text, False
    return f"{text}  (outside {range_text(bounds, KINDS[key])})", True


def range_tip(key: str) -> str:
    """Each option of the combined criteria that gives `key` a range."""
    lines = [", ".join(f"{k.replace('_', ' ')} {range_text(tuple(r), KINDS[k])}"
                       for k, r in option.items()) for option in _options(key)]
    return "\n".join(["Acceptable when any one of these holds (Miglioretti 2015):", *lines]
                     ) if lines else ""


def verdict_cell(m: Measures | None, group: str) -> tuple[str, bool]:
    """Whether `m` meets a group of the combined criteria ("met", "not met", or
    NONE without a value), and whether that is "not met"."""
    verdict = None if m is None else acceptable(m).get(group)
    return {True: "met", False: "not met", None: NONE}[verdict], verdict is False
