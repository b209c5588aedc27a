"""The main window: worklist and reading view, menus, keyboard shortcuts,
drag-and-drop import, and a status bar with the model, a model update
waiting, and the sync and offline state."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QStackedWidget,
)

from engine.display.viewport import FIT, PIXEL, TRUE_SIZE
from engine.errors import MammoDeskError
from ui.context import AppContext
from ui.help_overlay import HelpOverlay
from ui.reading_view import ReadingView
from ui.worklist import WorklistWidget

PREPARE_ON_IMPORT = 20  # studies decoded for display right after an import


class MainWindow(QMainWindow):
    # The daily model update check: None runs it when the AI is on (tests ask for it).
    auto_model_check: bool | None = None

    def __init__(self, ctx: AppContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle("MammoDesk")
        self.setAcceptDrops(True)
        self.worklist = WorklistWidget()
        self.reading = ReadingView(ctx)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.worklist)
        self.stack.addWidget(self.reading)
        self.setCentralWidget(self.stack)
        self.worklist.open_requested.connect(self.open_study)
        self.worklist.priority_requested.connect(self.set_priority)
        self.reading.message.connect(self.say)
        self.reading.study_message.connect(lambda uid, text: self.say(text, uid))
        self.reading.study_changed.connect(self.refresh_worklist)
        self.reading.study_changed.connect(
            lambda: self._forget_other_studies(self.reading.study.uid
                                               if self.reading.study else None))
        self.model_label = QLabel(ctx.model_text)
        self.sync_label = QLabel("sync: -")
        self.status_msg = QLabel()
        self._said_for: str | None = None  # the study the status line is about, if any
        bar = self.statusBar()
        bar.addWidget(self.status_msg, 1)
        self.update_label = QLabel()  # a model update waiting for a decision
        self.update_label.hide()
        bar.addPermanentWidget(self.update_label)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.sync_label)
        ctx.model_changed.connect(lambda _s: self.model_label.setText(ctx.model_text))
        from ui.sync_status import SyncController

        self.sync = SyncController(ctx, self)
        self.sync.changed.connect(self.sync_label.setText)
        self.shortcuts: list[tuple[str, str]] = []
        self._all_actions: list[QAction] = []
        from ui.image_screens import ImageScreens

        self.screens = ImageScreens(
            self, self.reading, ctx.settings, self.say,
            reading_shown=lambda: self.stack.currentWidget() is self.reading
            and self.reading.study is not None,
            on_activation=self._clock_follows_focus)
        self._build_actions()
        self.screens.actions_from(self._all_actions)
        self.help = HelpOverlay(self, self.shortcuts)
        self.resize(1600, 1000)
        self.stack.currentChanged.connect(lambda _i: self.screens.study_shown())
        self.reading.study_changed.connect(self.screens.study_shown)
        from ui.model_update_runner import ModelUpdates

        self.model_updates = ModelUpdates(ctx, self.update_label, self)
        self.refresh_model_notice()
        self.model_updates.start_daily(self.auto_model_check)

    # -- actions ---------------------------------------------------------------

    def _action(self, menu, text: str, keys: str | list[str], fn: Callable[[], object],
                reading_only: bool = False) -> QAction:
        act = QAction(text, self)
        seqs = [keys] if isinstance(keys, str) else keys
        act.setShortcuts([QKeySequence(k) for k in seqs])
        act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

        def run() -> None:
            if reading_only and (self.stack.currentWidget() is not self.reading
                                 or self.reading.study is None):
                return
            fn()

        act.triggered.connect(run)
        (menu or self).addAction(act)
        if menu is None:
            self.addAction(act)
        self.shortcuts.append((" / ".join(seqs), text))
        self._all_actions.append(act)
        return act

    def _tiles(self, fn: Callable) -> Callable[[], None]:
        return lambda: self.reading.hanging.for_each(fn)

    def _build_actions(self) -> None:
        m = self.menuBar()
        file = m.addMenu("&File")
        self._action(file, "Import a folder, DICOMDIR or ZIP...", "Ctrl+I", self.import_dialog)
        self._action(file, "Export the PDF report...", "Ctrl+P", self.export_pdf, True)
        self._action(file, "Settings...", "Ctrl+,", self.settings_dialog)
        self._action(file, "Quit", "Ctrl+Q", self.close)
        nav = m.addMenu("&Study")
        self._action(nav, "Open the selected study", ["Return", "Enter"], self._enter)
        self._action(nav, "Back to the worklist", "Esc", self.show_worklist)
        self._action(nav, "Search the worklist", "Ctrl+F", self._search)
        self._action(nav, "Next study", ["PgDown", "Space"], lambda: self._step(1), True)
        self._action(nav, "Previous study", "PgUp", lambda: self._step(-1), True)
        self._action(nav, "Next unread study", "N", self.next_unread)
        self._action(nav, "Save the read as a draft", "Ctrl+S", self.reading.save_draft, True)
        self._action(nav, "Sign the read (locks it)", "Ctrl+Return",
                     self.reading.reading.request_sign, True)
        self._action(nav, "Record pathology outcomes...", "Ctrl+Shift+O", self.outcome_form)
        audit = m.addMenu("A&udit")
        self._action(audit, "Screening audit...", "Ctrl+Shift+A", self.audit_window)
        cloud = m.addMenu("&Cloud")
        self._action(cloud, "Send this study to the cloud (de-identified)", "Ctrl+Shift+U",
                     self.enqueue_current, True)
        self._action(cloud, "Pause or resume cloud sync", "Ctrl+Shift+P", self.toggle_sync_pause)
        hang = m.addMenu("&Hanging")
        self._action(hang, "Next step of the reading sequence", "Right",
                     lambda: self.reading.walker.forward(), True)
        self._action(hang, "Previous step of the reading sequence", "Left",
                     lambda: self.reading.walker.back(), True)
        for key, name, layout in (("Ctrl+1", "2x2 screening hang", "2x2"),
                                  ("Ctrl+2", "CC views, right and left", "CC"),
                                  ("Ctrl+3", "MLO views, right and left", "MLO"),
                                  ("Ctrl+4", "Right breast, CC and MLO", "R"),
                                  ("Ctrl+5", "Left breast, CC and MLO", "L")):
            self._action(hang, name, key, functools.partial(self.reading.set_layout, layout), True)
        self._action(hang, "Current vs prior, CC views", "C",
                     functools.partial(self.reading.toggle_prior, "CC"), True)
        self._action(hang, "Current vs prior, MLO views", "Shift+C",
                     functools.partial(self.reading.toggle_prior, "MLO"), True)
        view = m.addMenu("&View")
        self._action(view, "Fit to the cell", "F", self._tiles(lambda t: t.set_mode(FIT)), True)
        self._action(view, "1:1 (one stored pixel per screen pixel)", "1",
                     self._tiles(lambda t: t.set_mode(PIXEL)), True)
        self._action(view, "True size (from pixel spacing)", "T",
                     self._tiles(lambda t: t.set_mode(TRUE_SIZE)), True)
        self._action(view, "Zoom in", ["+", "="], self._zoom(1.25), True)
        self._action(view, "Zoom out", "-", self._zoom(0.8), True)
        self._action(view, "Next window preset", "W", self._tiles(lambda t: t.next_preset()), True)
        self._action(view, "Invert", "I", self._tiles(lambda t: t.toggle_invert()), True)
        self._action(view, "Reset zoom, pan and window", "R", self._tiles(lambda t: t.reset()),
                     True)
        self._action(view, "Link zoom and pan across views", "L", self._toggle_link, True)
        self._action(view, "Magnifier", "M", self._tiles(_toggle("magnifier")), True)
        self._action(view, "Distance measurement", "D", self._measure_tool, True)
        self._action(view, "Place a finding: click on the image", "P", self._finding_tool, True)
        self._action(view, "Images on another screen (next layout; remembered)", "Ctrl+Shift+M",
                     self.screens.cycle)
        ai = m.addMenu("&AI")
        self._action(ai, "First look done: show the AI", "Shift+A",
                     lambda: self.reading.ai.reveal(early=False), True)
        self._action(ai, "Show AI marks", "A", lambda: self.reading.toggle_ai("marks"), True)
        self._action(ai, "Show the heatmap", "H", lambda: self.reading.toggle_ai("heat"), True)
        self._action(ai, "Heatmap more opaque", "]", lambda: self.reading.ai.step_opacity(10),
                     True)
        self._action(ai, "Heatmap more transparent", "[",
                     lambda: self.reading.ai.step_opacity(-10), True)
        self._action(ai, "Models...", "Ctrl+Shift+L", self.models_dialog)
        self.shortcuts.append(("U", "Mark the selected study urgent or routine (worklist)"))
        helpm = m.addMenu("&Help")
        self._action(helpm, "Keyboard shortcuts", ["F1", "?"], lambda: self.help.toggle())

    def _zoom(self, factor: float) -> Callable[[], None]:
        def run() -> None:
            tile = self.reading.hanging.current()
            if tile is not None:
                tile.zoom_by(factor)
        return run

    def _toggle_link(self) -> None:
        self.reading.hanging.linked = not self.reading.hanging.linked
        self.say("zoom and pan " + ("linked" if self.reading.hanging.linked else "per view"))

    def _finding_tool(self) -> None:
        self._left_button_tool("finding", "click where the finding is")

    def _measure_tool(self) -> None:
        self._left_button_tool("measure", "distance tool: drag on an image")

    def _left_button_tool(self, tool: str, hint: str) -> None:
        """Switch the left button to `tool` on every tile, or back to window/level."""
        tiles = self.reading.hanging.visible_tiles()
        on = not (tiles and tiles[0].tool == tool)
        for t in tiles:
            t.tool = tool if on else "wl"
        self.say(hint if on else "window/level with the left button")

    def _enter(self) -> None:
        if self.stack.currentWidget() is self.worklist:
            self.worklist.open_current()

    def _search(self) -> None:
        self.show_worklist()
        self.worklist.search.setFocus()
        self.worklist.search.selectAll()

    def _step(self, step: int) -> None:
        study = self.reading.study
        uid = self.worklist.neighbour(study.uid, step) if study else None
        if uid:
            self.worklist.select(uid)
            self.open_study(uid)
        else:
            self.say("no further study in the worklist")

    def next_unread(self) -> None:
        """Open the next study without a signed read (from the worklist or a study)."""
        study = self.reading.study if self.stack.currentWidget() is self.reading else None
        uid = self.worklist.next_unread(study.uid if study else None, self.reading.reader())
        if uid is None:
            self.say("every study in the worklist is read")
            return
        self.worklist.select(uid)
        self.open_study(uid)

    # -- pages -----------------------------------------------------------------

    def say(self, text: str, study: str | None = None) -> None:
        """One line in the status bar.  A line about a study (`study`: its UID)
        is shown only while that study is open, and goes when another opens."""
        if study is not None and (self.reading.study is None
                                  or self.reading.study.uid != study):
            return
        self.status_msg.setText(text)
        self._said_for = study

    def _forget_other_studies(self, uid: str | None) -> None:
        """Clear the status line when it is about a study other than `uid`."""
        if self._said_for is not None and self._said_for != uid:
            self.status_msg.clear()
            self._said_for = None

    def show_worklist(self) -> None:
        if self.help.isVisible():
            self.help.hide()
            return
        self.reading.leave()
        self.stack.setCurrentWidget(self.worklist)
        self.worklist.table.setFocus()

    def open_study(self, uid: str) -> None:
        self._forget_other_studies(uid)
        self.stack.setCurrentWidget(self.reading)
        self.reading.open_study(uid)
        nxt = self.worklist.neighbour(uid, 1)
        if nxt:
            QTimer.singleShot(0, lambda: self._prefetch(nxt))

    def _prefetch(self, uid: str) -> None:
        from ui.reading_view import load_library_study

        root = self.ctx.paths.library

        def fetch(study) -> None:
            for image in study.images:
                item = study.files.get(image.key)
                if item is not None:
                    self.ctx.images.request(item, (1024, 1024), full=True, ahead=True,
                                            size=(image.rows, image.columns))

        self.ctx.ops.run(lambda: load_library_study(root, uid), fetch, lambda _m: None)

    def refresh_worklist(self) -> None:
        root = self.ctx.paths.library

        def load():
            from engine.library.store import Library
            from engine.library.worklist import worklist

            with Library(root) as lib:
                return worklist(lib)

        def show(rows) -> None:
            self.worklist.set_rows(rows)
            self.sync.refresh()

        self.ctx.ops.run(load, show, self.say, channel="worklist")

    def set_priority(self, uid: str, urgent: bool) -> None:
        """Mark a study urgent or routine in the library at once, then show it."""
        root = self.ctx.paths.library

        def work() -> str:
            from engine.library.priority import set_priority
            from engine.library.store import Library

            with Library(root) as lib:
                return set_priority(lib, uid, urgent)

        def done(_value: str) -> None:
            self.say("marked urgent" if urgent else "marked routine")
            self.refresh_worklist()

        self.ctx.ops.run(work, done, self.say)

    # -- cloud -----------------------------------------------------------------

    def enqueue_current(self) -> None:
        study = self.reading.study
        if study is None or not study.in_library:
            return
        root, uid = self.ctx.paths.library, study.uid

        def work() -> int:
            from engine.library.outbox import enqueue
            from engine.library.store import Library

            with Library(root) as lib:
                return enqueue(lib, [uid], "manual")

        def done(n: int) -> None:
            self.say(f"queued {n} object(s) for the cloud" if n else "nothing new to send", uid)
            self.refresh_worklist()

        self.ctx.ops.run(work, done, lambda m: self.say(m, uid))

    def toggle_sync_pause(self) -> None:
        paused = not self.sync.paused()
        self.sync.set_paused(paused)
        self.say("cloud sync paused" if paused else "cloud sync resumed")

    # -- import ----------------------------------------------------------------

    def import_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import studies from a folder")
        if folder:
            self.import_paths([Path(folder)])

    def import_paths(self, paths: list[Path]) -> None:
        root = self.ctx.paths.library
        self.say("importing...")

        def work():
            from engine.library import import_paths
            from engine.library.store import Library

            with Library(root) as lib:
                return import_paths(lib, paths)

        def done(report) -> None:
            rejected = len(report.rejected)
            self.say(f"imported {report.imported} image(s)" +
                     (f", {rejected} rejected" if rejected else ""))
            self.refresh_worklist()
            new = sorted(report.study_uids)
            self._analyse_new(new)
            # Decode the newest arrivals now, in the background, so they open
            # from the display cache when the doctor gets to them.
            for uid in new[:PREPARE_ON_IMPORT]:
                self._prefetch(uid)

        self.ctx.ops.run(work, done, self.say)

    def _analyse_new(self, study_uids: list[str]) -> None:
        """The AI runs in the background on newly imported studies and on every
        study still without a result of the active model (an interrupted
        import, a new model)."""

        def go() -> None:
            if self.ctx.model is None:
                return
            from engine.ai import worker

            root = str(self.ctx.paths.library)
            self.ctx.ai_ops.run(
                lambda: self.ctx.in_ai_process(worker.analyze_library_studies, root,
                                               study_uids, True),
                lambda _r: self.refresh_worklist(), self.say)

        self.ctx.when_model_settled(go)

    def dragEnterEvent(self, e) -> None:
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e) -> None:
        paths = [Path(u.toLocalFile()) for u in e.mimeData().urls() if u.isLocalFile()]
        if paths:
            self.import_paths(paths)

    # -- dialogs ---------------------------------------------------------------

    def settings_dialog(self) -> None:
        from ui.settings_dialog import SettingsDialog

        if SettingsDialog(self.ctx.settings, self).exec():
            self.refresh_worklist()

    def outcome_form(self) -> None:
        """Pathology outcomes of the open study, else of the worklist's selection."""
        from ui.outcome_form import open_outcome_form

        study = self.reading.study
        if self.stack.currentWidget() is self.reading and study is not None and study.in_library:
            uid: str | None = study.uid
        else:
            uid = self.worklist.current_uid()
        if uid is None:
            self.say("select a study first")
            return
        open_outcome_form(self.ctx, uid, self)

    def models_dialog(self) -> None:
        from ui.models_dialog import open_models_dialog

        open_models_dialog(self.ctx, self, on_close=self.refresh_model_notice)

    def refresh_model_notice(self) -> None:
        self.model_updates.refresh_notice()

    def audit_window(self) -> None:
        from ui.audit_window import open_audit_window

        open_audit_window(self.ctx, self)

    def export_pdf(self) -> None:
        from ui.report import export_report

        study = self.reading.study
        if study is None or not study.in_library:
            return
        out, _ = QFileDialog.getSaveFileName(self, "Export the report", "report.pdf", "PDF (*.pdf)")
        if out:
            try:
                export_report(self.reading, Path(out))
                self.say(f"report written to {out}", study.uid)
            except OSError as exc:
                self.say(f"cannot write the report: {exc.strerror or exc}", study.uid)
            except MammoDeskError as exc:
                self.say(f"cannot write the report: {exc}", study.uid)

    def showEvent(self, e) -> None:
        super().showEvent(e)
        QTimer.singleShot(0, self.screens.restore)  # the saved monitor layout, once on screen

    def changeEvent(self, e) -> None:
        if e.type() == QEvent.Type.ActivationChange:  # reading time stops while away
            self._clock_follows_focus()
        super().changeEvent(e)

    def _clock_follows_focus(self) -> None:
        self.reading.reading.clock.set_active(self.isActiveWindow() or self.screens.active())

    def closeEvent(self, e) -> None:
        self.sync.stop()
        self.model_updates.stop()
        self.screens.close()
        self.reading.leave(wait=True)
        super().closeEvent(e)

    def resizeEvent(self, e) -> None:
        super().resizeEvent(e)
        if self.help.isVisible():
            self.help.setGeometry(self.rect())


def _toggle(attr: str) -> Callable:
    def flip(tile) -> None:
        setattr(tile, attr, not getattr(tile, attr))
        tile.update()
    return flip
