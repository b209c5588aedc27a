"""The keyboard shortcuts and what the mouse does, shown over the window (F1 or ?)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QWidget

# What the mouse does on an image, listed after the keys.
MOUSE = [
    ("Double-click", "That view alone; again: back to the layout before"),
    ("Left drag", "Window/level (or the distance tool)"),
    ("Right drag", "Pan (the middle button too)"),
    ("Wheel", "Zoom about the pointer"),
]


class HelpOverlay(QWidget):
    def __init__(self, parent: QWidget, shortcuts: list[tuple[str, str]]) -> None:
        super().__init__(parent)
        self.shortcuts = shortcuts
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        self.hide()

    def toggle(self) -> None:
        if self.isVisible():
            self.hide()
            return
        parent = self.parentWidget()  # the window it was made for
        if parent is not None:
            self.setGeometry(parent.rect())
        self.raise_()
        self.show()
        self.setFocus()

    def mousePressEvent(self, _e) -> None:
        self.hide()

    def keyPressEvent(self, e) -> None:
        if e.key() in (Qt.Key.Key_Escape, Qt.Key.Key_F1, Qt.Key.Key_Question):
            self.hide()
        e.accept()

    def paintEvent(self, _e) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(0, 0, 0, 215))
        p.setPen(QColor(235, 235, 235))
        p.setFont(QFont("Sans", 15, QFont.Weight.Bold))
        p.drawText(QRectF(40, 24, self.width() - 80, 40), "Keyboard shortcuts  (Esc closes)")
        p.setFont(QFont("Monospace", 11))
        per_col = max(1, (self.height() - 110) // 24)
        col_w = max(320, (self.width() - 80) // 2)
        for i, (key, what) in enumerate(self.shortcuts + MOUSE):
            x = 40 + (i // per_col) * col_w
            y = 80 + (i % per_col) * 24
            p.setPen(QColor(255, 200, 90))
            p.drawText(QRectF(x, y, 150, 22), key)
            p.setPen(QColor(235, 235, 235))
            p.drawText(QRectF(x + 150, y, col_w - 160, 22), what)
        p.end()
