"""Starting the reading workstation: the window first, the AI model after.

TensorFlow alone takes seconds to import; nothing heavy is imported before
the window is on screen, and the model loads in the background while the AI
panel says so."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget

from engine.paths import AppPaths

if TYPE_CHECKING:
    from ui.context import AppContext
    from ui.main_window import MainWindow


def make_app(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(argv or [sys.argv[0]])
    app.setApplicationName("MammoDesk")
    from ui.theme import apply_dark_theme

    apply_dark_theme(app)
    return app


def finish(app: QApplication, *widgets: QWidget) -> None:
    """Tear Qt down in order before Python does: widgets first, then the
    application object.  Left to the interpreter's final garbage collection,
    PySide6 objects can be destroyed in an order that crashes at exit."""
    for w in widgets:
        w.close()
        w.deleteLater()
    app.processEvents()
    app.sendPostedEvents(None, 0)
    app.shutdown()


def build_window(paths: AppPaths, ai: bool = True) -> tuple[AppContext, MainWindow]:
    from ui.context import AppContext
    from ui.main_window import MainWindow

    ctx = AppContext(paths, ai_enabled=ai)
    window = MainWindow(ctx)
    return ctx, window


# The start-up benchmark sets this: report when the window is on screen and
# the event loop runs, then quit.
QUIT_WHEN_READY = "MAMMODESK_QUIT_WHEN_READY"


def run_gui(paths: AppPaths, open_uid: str | None = None) -> int:
    app = make_app()
    ctx, window = build_window(paths)
    window.show()
    window.refresh_worklist()
    if os.environ.get(QUIT_WHEN_READY):
        QTimer.singleShot(0, lambda: (print("window ready", flush=True), app.quit()))
        code = app.exec()
        ctx.close()
        finish(app, window)
        return code
    QTimer.singleShot(0, ctx.load_model)
    QTimer.singleShot(0, window.sync.start)  # the cloud sync loop, if a cloud is configured
    QTimer.singleShot(0, lambda: ctx.images.procs)  # start the decoders now
    if open_uid:
        QTimer.singleShot(0, lambda: window.open_study(open_uid))
    code = app.exec()
    ctx.close()
    finish(app, window)
    return code
