"""The hanging: a grid of image tiles laid out by the hanging protocol, with
zoom and pan linked across the views."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QGridLayout, QWidget

from engine.display.hanging import Cell, Hang
from engine.display.viewport import Viewport
from ui.viewer.tile import ImageTile


class HangingView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        self.tiles: list[ImageTile] = []
        self.hang: Hang | None = None
        self.linked = True
        self.on_activate: Callable[[Cell], None] | None = None
        self.on_point: Callable[[str, float, float], None] | None = None  # finding placed
        self._syncing = False

    def show_hang(self, hang: Hang, captions: dict[int, str] | None = None) -> None:
        """Lay out one tile per cell (tiles are reused).  `captions`: a line
        under the label of each study slot's tiles (the prior's date)."""
        self.hang = hang
        cells = hang.cells()
        while len(self.tiles) < len(cells):
            tile = ImageTile(self)
            tile.viewport_changed.connect(lambda vp, t=tile: self._linked(t, vp))
            tile.activated.connect(lambda t=tile: self._activated(t))
            tile.point_placed.connect(self._point)
            self.tiles.append(tile)
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.hide()
        cols = max(len(r) for r in hang.rows) if hang.rows else 1
        for r, row in enumerate(hang.rows):
            for c, cell in enumerate(row):
                tile = self.tiles[r * cols + c]
                tile.set_cell(cell, (captions or {}).get(cell.study, ""))
                self.grid.addWidget(tile, r, c)
                tile.show()
        # The grid keeps the rows and columns of a bigger layout shown before:
        # only those in use may stretch, or the empty ones take their share.
        for r in range(max(self.grid.rowCount(), len(hang.rows))):
            self.grid.setRowStretch(r, 1 if r < len(hang.rows) else 0)
        for c in range(max(self.grid.columnCount(), cols)):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)

    def visible_tiles(self) -> list[ImageTile]:
        return [t for t in self.tiles if t.isVisible() and t.cell is not None]

    def tile_for(self, key: str) -> list[ImageTile]:
        return [
            t for t in self.visible_tiles()
            if t.cell and t.cell.placement and t.cell.placement.image.key == key
        ]

    def current(self) -> ImageTile | None:
        """The tile under focus, else the first one."""
        for t in self.visible_tiles():
            if t.hasFocus():
                return t
        tiles = self.visible_tiles()
        return tiles[0] if tiles else None

    def for_each(self, fn: Callable[[ImageTile], None]) -> None:
        for t in self.visible_tiles():
            fn(t)

    def _linked(self, source: ImageTile, vp: Viewport) -> None:
        if not self.linked or self._syncing:
            return
        self._syncing = True
        try:
            for t in self.visible_tiles():
                if t is not source:
                    t.apply_viewport(vp)
        finally:
            self._syncing = False

    def _point(self, key: str, x: float, y: float) -> None:
        if self.on_point:
            self.on_point(key, x, y)

    def _activated(self, tile: ImageTile) -> None:
        if self.on_activate and tile.cell is not None:
            self.on_activate(tile.cell)
