"""Which screens show the images: the reading room's monitor layout as
plain geometry (no Qt), so the choices can be tested without monitors.

A reading room usually has a control monitor (worklist, reading panel) and
one or two diagnostic monitors for the images, often two portrait screens
side by side.  The images go on one screen, or span two neighbouring screens
of the same height; the control screen is never one of them.  The choice is
kept as screen names (the names the windowing system gives the outputs), so
that it survives a restart and is recognised when a monitor comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import MammoDeskError


@dataclass(frozen=True)
class Screen:
    name: str
    x: int
    y: int
    width: int
    height: int

    @property
    def portrait(self) -> bool:
        return self.height > self.width

    @property
    def right(self) -> int:
        return self.x + self.width


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int


def parse_names(value: str) -> tuple[str, ...]:
    """A stored choice, "DP-1,DP-2", as names; () for none."""
    names = tuple(n.strip() for n in (value or "").split(",") if n.strip())
    if len(names) > 2:
        raise MammoDeskError("the images span at most two screens")
    if len(set(names)) != len(names):
        raise MammoDeskError("a screen is named twice")
    return names


def stored(names: tuple[str, ...]) -> str:
    return ",".join(names)


def shown(names: tuple[str, ...]) -> str:
    """For a status line: "DP-1 + DP-2"."""
    return " + ".join(names)


def _neighbours(a: Screen, b: Screen) -> bool:
    """`b` continues `a` to the right, edge to edge, at the same height."""
    return a.right == b.x and a.y == b.y and a.height == b.height


def image_choices(screens: list[Screen], control: str) -> list[tuple[str, ...]]:
    """Every way to put the images on screens other than `control`: each
    screen alone (left to right), then each pair of neighbouring screens of
    the same height (the two portrait monitors of a reading station first)."""
    others = sorted((s for s in screens if s.name != control), key=lambda s: (s.x, s.y))
    singles = [(s.name,) for s in others]
    pairs = [(a, b) for a in others for b in others if _neighbours(a, b)]
    pairs.sort(key=lambda p: (not (p[0].portrait and p[1].portrait), p[0].x))
    return singles + [(a.name, b.name) for a, b in pairs]


def span(screens: list[Screen], names: tuple[str, ...]) -> Rect | None:
    """The rectangle the images fill on `names`; None when a named screen is
    missing or two named screens are not neighbours."""
    by_name = {s.name: s for s in screens}
    if not names or any(n not in by_name for n in names):
        return None
    chosen = sorted((by_name[n] for n in names), key=lambda s: s.x)
    if len(chosen) == 2 and not _neighbours(chosen[0], chosen[1]):
        return None
    first, last = chosen[0], chosen[-1]
    return Rect(first.x, first.y, last.right - first.x, first.height)


def next_choice(screens: list[Screen], control: str,
                current: tuple[str, ...]) -> tuple[str, ...]:
    """The choice after `current` in `image_choices`, then back to () (the
    images in the main window)."""
    choices = image_choices(screens, control)
    if current in choices:
        i = choices.index(current) + 1
        return choices[i] if i < len(choices) else ()
    return choices[0] if choices else ()
