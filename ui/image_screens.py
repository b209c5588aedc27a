"""Images on their own screen(s): the reading room's monitor layout.

The reading view's image area (patient line and hanging) moves into a
frameless window that fills one diagnostic screen, or two neighbouring
screens of the same height; the main window keeps the worklist and the
reading panel on the control screen.  The choice is saved in the
`display.image_screens` setting and applied again at the next start when
those screens are connected.  A screen unplugged while in use brings the
images back into the main window, with a status line saying so; plugging
it in again restores the saved layout.

While no study is open the image window shows no images (only a line saying
so), so the images of the last study never stand beside another patient's
worklist row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QRect, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QScreen
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from engine.display.screens import Screen, next_choice, parse_names, shown, span, stored
from engine.errors import MammoDeskError

KEY = "display.image_screens"
log = logging.getLogger(__name__)


def screens_now() -> list[Screen]:
    return [_screen(s) for s in QGuiApplication.screens()]


def _screen(s: QScreen) -> Screen:
    g = s.geometry()
    return Screen(s.name(), g.x(), g.y(), g.width(), g.height())


class ImageWindow(QWidget):
    """A frameless window for the image area, black where no study is open."""

    activation_changed = Signal()  # the reading clock counts while either window is active

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint | Qt.WindowType.Window)
        self.setWindowTitle("MammoDesk images")
        self.setObjectName("imageWindow")
        self.setStyleSheet("#imageWindow { background: black; }")
        self.pages = QStackedWidget()
        self.idle = QLabel("No study open: choose one in the worklist.")
        self.idle.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.idle.setStyleSheet("color: #888; background: black;")
        self.pages.addWidget(self.idle)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.pages)

    def hold(self, area: QWidget) -> None:
        self.pages.addWidget(area)

    def changeEvent(self, e) -> None:
        if e.type() == QEvent.Type.ActivationChange:
            self.activation_changed.emit()
        super().changeEvent(e)

    def show_images(self, on: bool) -> None:
        self.pages.setCurrentIndex(1 if on and self.pages.count() > 1 else 0)


class ImageScreens:
    """Moves the image area between the main window and the image window.

    `say` reports to the status bar; `reading_shown` tells whether a study is
    open in the reading view (the image window shows images only then)."""

    def __init__(self, main: QWidget, reading, settings, say: Callable[[str], None],
                 reading_shown: Callable[[], bool], on_activation: Callable[[], None]) -> None:
        self.main = main
        self.reading = reading
        self.settings = settings
        self.say = say
        self.reading_shown = reading_shown
        self.on_activation = on_activation
        self._actions: list[QAction] = []
        self.window: ImageWindow | None = None
        self.names: tuple[str, ...] = ()  # the screens in use now; () = main window
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.screenAdded.connect(lambda _s: self.restore(quiet=True))
            app.screenRemoved.connect(self._screen_removed)

    # -- what the user does --------------------------------------------------

    def saved(self) -> tuple[str, ...]:
        try:
            return parse_names(self.settings.get(KEY))
        except MammoDeskError as exc:
            log.warning("%s: %s", KEY, exc)
            return ()

    def restore(self, quiet: bool = False) -> None:
        """Apply the saved layout where its screens are connected."""
        names = self.saved()
        if not names or names == self.names:
            return
        if span(screens_now(), names) is None:
            if not quiet:
                self.say(f"the image screen {shown(names)} is not connected; "
                         "the images are in the main window")
            return
        self._use(names)

    def cycle(self) -> None:
        """The next layout: each other screen, then neighbouring pairs, then
        back to the main window.  Saved at once."""
        control = self._control()
        names = next_choice(screens_now(), control, self.names)
        if not names and not self.names:
            self.say("only one screen is connected: the images stay in the main window")
            return
        try:
            self.settings.update({KEY: stored(names)})
        except MammoDeskError as exc:
            self.say(str(exc))
        self._use(names)
        self.say(f"images on {shown(names)}" if names else "images in the main window")

    def actions_from(self, actions: list[QAction]) -> None:
        """The main window's shortcuts work while the image window is active."""
        self._actions = actions
        if self.window is not None:
            self.window.addActions(actions)

    def study_shown(self) -> None:
        """The reading view opened a study, or the worklist came back."""
        if self.window is not None:
            self.window.show_images(self.reading_shown())

    # -- moving the image area ----------------------------------------------

    def _control(self) -> str:
        screen = self.main.screen()
        return screen.name() if screen is not None else ""

    def _use(self, names: tuple[str, ...]) -> None:
        rect = span(screens_now(), names) if names else None
        if rect is None:
            self._back_to_main()
            return
        if self.window is None:
            self.window = ImageWindow()
            self.window.addActions(self._actions)
            self.window.activation_changed.connect(self.on_activation)
        if self.reading.image_area.parent() is not self.window.pages:
            self.reading.detach_images()
            self.window.hold(self.reading.image_area)
        self.window.setGeometry(QRect(rect.x, rect.y, rect.width, rect.height))
        self.window.show()
        self.window.show_images(self.reading_shown())
        self.names = names

    def _back_to_main(self) -> None:
        if self.window is not None:
            self.reading.attach_images()
            self.window.hide()
        self.names = ()

    def _screen_removed(self, removed: QScreen) -> None:
        left = [s for s in screens_now() if s.name != removed.name()]
        if self.names and span(left, self.names) is None:
            lost = shown(self.names)
            self._back_to_main()
            self.say(f"the image screen {lost} was disconnected; "
                     "the images are in the main window")

    def active(self) -> bool:
        return self.window is not None and self.window.isVisible() \
            and self.window.isActiveWindow()

    def close(self) -> None:
        if self.window is not None:
            self.window.close()
