"""The reading sequence as data: the hanging steps a reader walks through,
forward and back, one key each.

A step names its cells row by row ("RCC", "LMLO prior", "RCC prior-2"), a
zoom mode and whether the reader tours the image at 1:1:

* ``fit``: each image fills its cell;
* ``same-size``: every image at one physical scale (millimetres on screen),
  the largest that lets each fit its cell, so a current view and its prior
  compare at the same size whatever their pixel spacing;
* ``1:1``: one stored pixel per screen pixel; with ``tour`` the reader
  steps across the image in overlapping screenfuls, chest wall first.

A site keeps its own sequence in the ``hanging.steps`` setting, as JSON: a
list of {"name", "rows", "zoom", "tour"}; ``rows`` is a list of rows, each a
list of cell names.  Empty means DEFAULT_STEPS.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from engine.errors import MammoDeskError

ZOOMS = ("fit", "same-size", "1:1")
STUDY_SLOTS = {"": 0, "current": 0, "prior": 1, "prior-2": 2}
MAX_CELLS = 8  # two monitors' worth of screening views
_CELL = re.compile(r"^\s*([RL])\s*(CC|MLO)\s*(?:\s(current|prior|prior-2))?\s*$", re.I)

Cell = tuple[int, str, str]  # (study slot: 0 current, 1 prior, 2 the one before), side, view


@dataclass(frozen=True)
class Step:
    name: str
    rows: tuple[tuple[Cell, ...], ...]
    zoom: str = "fit"
    tour: bool = False

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "rows": [[cell_name(c) for c in row] for row in self.rows],
                "zoom": self.zoom, "tour": self.tour}

    @property
    def needs_prior(self) -> int:
        """How many earlier studies the step shows (0, 1 or 2)."""
        return max(slot for row in self.rows for slot, _, _ in row)


def cell_name(cell: Cell) -> str:
    slot, side, view = cell
    suffix = {0: "", 1: " prior", 2: " prior-2"}[slot]
    return f"{side}{view}{suffix}"


def parse_cell(text: str) -> Cell:
    match = _CELL.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a cell: write a view such as RCC, LMLO, "
                         "\"RCC prior\" or \"LMLO prior-2\"")
    side, view, study = match.groups()
    return STUDY_SLOTS[(study or "").lower()], side.upper(), view.upper()


def _step(number: int, raw: object) -> Step:
    where = f"hanging step {number}"
    if not isinstance(raw, dict):
        raise MammoDeskError(f"{where}: expected an object with name, rows and zoom")
    unknown = set(raw) - {"name", "rows", "zoom", "tour"}
    if unknown:
        raise MammoDeskError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    rows = raw.get("rows")
    if (not isinstance(rows, list) or not rows
            or not all(isinstance(r, list) and r for r in rows)):
        raise MammoDeskError(f"{where}: rows must be a non-empty list of non-empty lists of "
                             "cells")
    try:
        cells = tuple(tuple(parse_cell(c) for c in row) for row in rows)
    except ValueError as exc:
        raise MammoDeskError(f"{where}: {exc}") from exc
    if sum(len(r) for r in cells) > MAX_CELLS or len({len(r) for r in cells}) != 1:
        raise MammoDeskError(f"{where}: rows must be of equal length, {MAX_CELLS} cells at most")
    zoom = raw.get("zoom", "fit")
    if zoom not in ZOOMS:
        raise MammoDeskError(f"{where}: zoom must be one of {', '.join(ZOOMS)}, not {zoom!r}")
    tour = raw.get("tour", False)
    if not isinstance(tour, bool) or (tour and zoom != "1:1"):
        raise MammoDeskError(f"{where}: tour is true or false, and true only at zoom 1:1")
    name = raw.get("name") or " / ".join(cell_name(c) for row in cells for c in row)
    return Step(str(name)[:60], cells, str(zoom), tour)


def parse_steps(text: str) -> list[Step]:
    """A site's sequence from its JSON; DEFAULT_STEPS for an empty text.
    MammoDeskError (one line, naming the step) for anything else."""
    if not (text or "").strip():
        return list(DEFAULT_STEPS)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MammoDeskError(f"the hanging steps are not valid JSON: {exc.msg} at line "
                             f"{exc.lineno}") from exc
    if not isinstance(data, list) or not data:
        raise MammoDeskError("the hanging steps must be a non-empty JSON list of steps")
    return [_step(i, raw) for i, raw in enumerate(data, start=1)]


def steps_json(steps: list[Step]) -> str:
    """One line of JSON (a setting's value is one line)."""
    return json.dumps([s.as_dict() for s in steps])


def _default() -> list[Step]:
    tour = [Step(f"{s}{v} at 1:1", (((0, s, v),),), "1:1", True)
            for v in ("CC", "MLO") for s in ("R", "L")]
    return [
        Step("Screening 2x2", (((0, "R", "CC"), (0, "L", "CC")),
                               ((0, "R", "MLO"), (0, "L", "MLO")))),
        Step("CC: current above prior", (((0, "R", "CC"), (0, "L", "CC")),
                                         ((1, "R", "CC"), (1, "L", "CC"))), "same-size"),
        Step("MLO: current above prior", (((0, "R", "MLO"), (0, "L", "MLO")),
                                          ((1, "R", "MLO"), (1, "L", "MLO"))), "same-size"),
        *tour,
    ]


DEFAULT_STEPS: tuple[Step, ...] = tuple(_default())


def same_size_scale(cells: list[tuple[float, float, int, int, float | None]]) -> float | None:
    """Millimetres to screen pixels shared by every image of a same-size step:
    the largest that lets each image fit its cell.  Each entry is (cell width,
    cell height, image columns, image rows, pixel spacing mm or None); None
    when an image's spacing is unknown (then each image is fitted alone)."""
    best = math.inf
    for width, height, columns, rows, spacing in cells:
        if not spacing or spacing <= 0 or columns <= 0 or rows <= 0:
            return None
        best = min(best, width / (columns * spacing), height / (rows * spacing))
    return None if best == math.inf else best


def tour_positions(columns: int, rows: int, view_w: float, view_h: float,
                   chest_wall: str = "left", overlap: float = 0.1) -> list[tuple[float, float]]:
    """The stored-pixel top-left corners of the screenfuls (view_w x view_h
    stored pixels each) that cover an image at 1:1, overlapping by `overlap`,
    starting at the top of the chest wall and working down each column strip
    before moving towards the nipple.  An image narrower than the screen
    keeps its chest wall against the screen's edge; one shorter than the
    screen is centred top to bottom."""
    def starts(size: int, window: float, fits: float) -> list[float]:
        if window >= size:
            return [fits]
        step = window * (1.0 - overlap)
        n = math.ceil((size - window) / step) + 1
        return [min(i * step, size - window) for i in range(n)]

    xs = starts(columns, view_w, 0.0 if chest_wall != "right" else columns - view_w)
    if chest_wall == "right":
        xs = list(reversed(xs))
    return [(x, y) for x in xs for y in starts(rows, view_h, (rows - view_h) / 2)]
