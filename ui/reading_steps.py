"""Walking the reading sequence (engine.display.protocol) in the reading
view: one key forward, one back.  A step with a 1:1 tour is walked screenful
by screenful before the next step comes; steps that need a prior the patient
does not have are passed over."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from engine.display.hanging import hang_cells
from engine.display.protocol import (
    DEFAULT_STEPS,
    Step,
    parse_steps,
    same_size_scale,
    tour_positions,
)
from engine.display.viewport import FIT, FREE, PIXEL, Viewport
from engine.errors import MammoDeskError

if TYPE_CHECKING:
    from ui.reading_view import ReadingView
    from ui.viewer.tile import ImageTile


class StepWalker:
    def __init__(self, view: ReadingView) -> None:
        self.view = view
        self.steps: list[Step] = list(DEFAULT_STEPS)
        self.index: int | None = None  # None: a layout chosen by its own key
        self.spot = 0  # the screenful of a 1:1 tour

    def load(self, text: str) -> str | None:
        """The site's sequence from its setting; on a bad one the default is
        kept and the reason returned."""
        try:
            self.steps = parse_steps(text)
        except MammoDeskError as exc:
            self.steps = list(DEFAULT_STEPS)
            return f"{exc}; the default reading sequence is used"
        return None

    @property
    def step(self) -> Step | None:
        return None if self.index is None else self.steps[self.index]

    def _priors(self) -> int:
        study = self.view.study
        return len(study.priors) if study is not None else 0

    def show(self, index: int, spot: int = 0) -> None:
        study = self.view.study
        if study is None:
            return
        step = self.steps[index]
        hung = hang_cells(study.images, step.rows, study.priors, step.name)
        self.index, self.spot = index, spot
        self.view.show_hang(hung)
        self.apply_zoom()

    def start(self) -> bool:
        """Show the first step this study can fill; False when none can."""
        for i, step in enumerate(self.steps):
            if step.needs_prior <= self._priors():
                self.show(i)
                return True
        return False

    def leave(self) -> None:
        self.index = None

    def forward(self) -> None:
        self._move(1)

    def back(self) -> None:
        self._move(-1)

    def _move(self, direction: int) -> None:
        step = self.step
        if step is not None and step.tour:
            spots = self._tour_spots()
            if spots and 0 <= self.spot + direction < len(spots):
                self.spot += direction
                self.apply_zoom()
                return
        # From a layout chosen by its own key: forward to the first step, back to the last.
        start = -1 if direction > 0 else len(self.steps)
        i = self.index if self.index is not None else start
        while True:
            i += direction
            if not 0 <= i < len(self.steps):
                study = self.view.study
                if study is not None:
                    self.view.say(study, "last step of the reading sequence" if direction > 0
                                  else "first step of the reading sequence")
                return
            if self.steps[i].needs_prior <= self._priors():
                break
        target = self.steps[i]
        spot = 0
        if direction < 0 and target.tour:
            spot = -1  # resolved once the tile's size is known
        self.show(i, spot)

    # -- zoom -------------------------------------------------------------------

    def apply_zoom(self) -> None:
        """Put every visible tile at the step's zoom (called again as images arrive)."""
        step = self.step
        if step is None:
            return
        tiles = self.view.hanging.visible_tiles()
        if step.zoom == "fit":
            for tile in tiles:
                _set(tile, replace(tile.vp, mode=FIT, pan=(0.0, 0.0)))
        elif step.zoom == "same-size":
            self._same_size(tiles)
        else:
            spots = self._tour_spots() if step.tour else []
            if spots and self.spot < 0:
                self.spot = len(spots) - 1
            for tile in tiles:
                vp = replace(tile.vp, mode=PIXEL, pan=(0.0, 0.0))
                if spots:
                    u, v = spots[min(max(self.spot, 0), len(spots) - 1)]
                    scale = vp.effective_scale(tile.devicePixelRatioF())
                    ox, oy = vp.origin(scale)
                    vp = replace(vp, pan=(-u * scale - ox, -v * scale - oy))
                _set(tile, vp)

    def _same_size(self, tiles: list[ImageTile]) -> None:
        ready = [t for t in tiles if t.view is not None]
        cells = [(float(t.width()), float(t.height()), t.view.columns, t.view.rows,
                  t.view.spacing_mm[1] if t.view.spacing_mm else None)
                 for t in ready if t.view is not None]
        mm = same_size_scale(cells) if cells else None
        for tile in tiles:
            if mm is None or tile.view is None or not tile.view.spacing_mm:
                _set(tile, replace(tile.vp, mode=FIT, pan=(0.0, 0.0)))
            else:
                _set(tile, replace(tile.vp, mode=FREE, scale=mm * tile.view.spacing_mm[1],
                                   pan=(0.0, 0.0)))

    def _tour_spots(self) -> list[tuple[float, float]]:
        tiles = self.view.hanging.visible_tiles()
        if len(tiles) != 1:
            return []
        tile = tiles[0]
        columns, rows = tile.vp.columns, tile.vp.rows
        if tile.view is None and tile.cell is not None and tile.cell.placement is not None:
            image = tile.cell.placement.image
            columns, rows = image.columns or columns, image.rows or rows
        ratio = max(tile.devicePixelRatioF(), 1e-6)
        chest_wall = tile.vp.anchor if tile.vp.anchor in ("left", "right") else "left"
        return tour_positions(columns, rows, tile.width() * ratio, tile.height() * ratio,
                              chest_wall)


def _set(tile: ImageTile, vp: Viewport) -> None:
    """A viewport set by the reading sequence: not passed on to linked tiles."""
    tile.vp = vp
    tile.update()
