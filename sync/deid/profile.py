"""De-identification profiles: the Basic profile plus switchable options.

Option names used in the settings and the CLI map to the option columns of
PS3.15 Table E.1-1.  A profile is a named set of options; the setting
``deid.options`` replaces the named profile's options when it is set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sync.deid.errors import DeidError

# Option name (settings, CLI) -> Table E.1-1 option column.
OPTIONS: dict[str, str] = {
    "retain-modified-dates": "rtnLongModifDatesOpt",
    "retain-full-dates": "rtnLongFullDatesOpt",
    "retain-patient-characteristics": "rtnPatCharsOpt",
    "retain-device-identity": "rtnDevIdOpt",
    "retain-institution-identity": "rtnInstIdOpt",
    "clean-descriptors": "cleanDescOpt",
    "retain-safe-private": "rtnSafePrivOpt",
}

# What the cloud gets by default: dates shifted per patient (follow-up
# intervals survive), age and sex (density and risk), vendor and model (the
# AI needs them), descriptors only where they are plainly safe, no private
# elements.
SYNC_OPTIONS = ("retain-modified-dates", "retain-patient-characteristics",
                "retain-device-identity", "clean-descriptors")
PROFILES: dict[str, tuple[str, ...]] = {
    "basic": (),
    "sync": SYNC_OPTIONS,
}
DEFAULT_PROFILE = "sync"


@dataclass(frozen=True)
class SafePrivate:
    """One allowlisted private element: its block's creator, group and element byte."""

    creator: str
    group: int
    element: int  # the low byte (xx in gggg,00xx -> gggg,xxee)


@dataclass(frozen=True)
class Profile:
    name: str
    options: frozenset[str]  # option names (keys of OPTIONS)
    safe_private: frozenset[SafePrivate] = field(default_factory=frozenset)

    @property
    def columns(self) -> frozenset[str]:
        """The Table E.1-1 option columns this profile applies."""
        return frozenset(OPTIONS[name] for name in self.options)

    @property
    def shifts_dates(self) -> bool:
        return "retain-modified-dates" in self.options

    def describe(self) -> str:
        opts = ", ".join(sorted(self.options)) or "no options"
        return f"{self.name} ({opts})"


def _check_options(names: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(n.strip() for n in names if n.strip())
    unknown = sorted(chosen - OPTIONS.keys())
    if unknown:
        raise DeidError(f"unknown de-identification option {unknown[0]!r}; "
                        f"known: {', '.join(OPTIONS)}")
    if {"retain-modified-dates", "retain-full-dates"} <= chosen:
        raise DeidError("choose one of retain-modified-dates and retain-full-dates, not both")
    return chosen


def profile_named(name: str, options: Iterable[str] | None = None,
                  safe_private: Iterable[SafePrivate] = ()) -> Profile:
    """A named profile; ``options`` (when given) replaces its option list."""
    if name not in PROFILES:
        raise DeidError(f"unknown de-identification profile {name!r}; "
                        f"known: {', '.join(PROFILES)}")
    chosen = _check_options(PROFILES[name] if options is None else options)
    return Profile(name=name, options=chosen, safe_private=frozenset(safe_private))


def read_safe_private(path: Path) -> frozenset[SafePrivate]:
    """Read an allowlist: one ``"CREATOR" gggg xx`` per line, ``#`` comments.

    ``gggg`` is the odd group in hex, ``xx`` the element's low byte in hex
    (the private element gggg,bbxx of whatever block ``CREATOR`` reserved).
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DeidError(f"cannot read the safe private list {path}: "
                        f"{exc.strerror or exc}") from exc
    except UnicodeDecodeError:
        raise DeidError(f"the safe private list {path} is not UTF-8 text") from None
    out = set()
    for number, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            quote, rest = line[0], line[1:]
            if quote != '"' or '"' not in rest:
                raise ValueError
            creator, tail = rest.split('"', 1)
            group_text, element_text = tail.split()
            group, element = int(group_text, 16), int(element_text, 16)
            if group % 2 == 0 or not 0 <= element <= 0xFF:
                raise ValueError
        except ValueError:
            raise DeidError(f"{path} line {number}: expected '\"CREATOR\" gggg xx' "
                            "with an odd group") from None
        out.add(SafePrivate(creator.strip().upper(), group, element))
    return frozenset(out)


def profile_from_settings(values: dict[str, str], name: str | None = None) -> Profile:
    """The profile the settings choose (``name`` overrides ``deid.profile``)."""
    chosen = name or values.get("deid.profile") or DEFAULT_PROFILE
    options_text = values.get("deid.options", "")
    options = options_text.split(",") if options_text.strip() else None
    allow_path = values.get("deid.safe_private", "")
    allow = read_safe_private(Path(allow_path)) if allow_path else frozenset()
    return profile_named(chosen, options, allow)
