"""The reading view: the hanging, the AI panel and the reading panel for
one study.  Everything slow (headers, pixels, the AI, the database) runs
through the operations layer; this widget only arranges results.  The
study's reads are loaded, saved and signed by ui/read_keeper.py."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from engine.ai.results import HEATMAP_STRIDE_PX, OUTSIDE_TRAINING, ExamResult
from engine.dates import shown_date
from engine.display.hanging import Cell, Hang, hang
from engine.library.reads import Read
from engine.library.store import Library
from engine.notices import with_notice
from engine.reading.open_study import OpenedStudy, open_folder_study, open_library_study
from ui.ai_panel import AiPanel
from ui.context import LOADING, NO_MODEL, READY, AppContext
from ui.read_keeper import ReadKeeper
from ui.reading_panel import ReadingPanel
from ui.reading_steps import StepWalker
from ui.viewer.hanging_view import HangingView

AI_NOTE = with_notice("AI marks")
WITHHELD_NOTE = with_notice(f"AI marks, {OUTSIDE_TRAINING}")
# The current-vs-prior layouts, by the view they compare.
PRIOR_LAYOUTS = {"CC": "prior CC", "MLO": "prior MLO"}
SIDE_WIDTH = 460  # the widest the AI and reading panels get beside the images
log = logging.getLogger(__name__)


def load_library_study(library_root: Path, uid: str) -> OpenedStudy:
    with Library(library_root) as lib:
        return open_library_study(lib, uid)


def load_folder_study(path: Path) -> OpenedStudy:
    return open_folder_study(path)


class ReadingView(QWidget):
    message = Signal(str)  # one line for the status bar
    study_message = Signal(str, str)  # (study UID, line): shown only while that study is open
    study_changed = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.study: OpenedStudy | None = None
        self.layout_name = "2x2"
        self.compare = False  # a current-vs-prior layout is shown
        self._before_one_up = "2x2"  # where a second double click returns to
        self.hanging = HangingView()
        self.hanging.on_activate = self._one_up
        self.hanging.on_point = self._place_point
        self.title = QLabel()  # the patient and the study (PatientContext)
        self.title.setObjectName("studyTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problems = QLabel()
        self.problems.setObjectName("error")
        self.problems.setWordWrap(True)
        self.ai = AiPanel()
        self.ai.overlays_changed.connect(self._overlays)
        self.ai.revealed.connect(self._ai_revealed)
        self.reads = ReadKeeper(self)  # loads, saves and signs the reads
        self.reading = ReadingPanel()
        self.reading.save_requested.connect(self.save_draft)
        self.reading.sign_requested.connect(self.sign)
        self.reading.addendum_requested.connect(self.addendum)
        self.reading.findings_changed.connect(self._show_findings)
        side = QWidget()
        side_box = QVBoxLayout(side)
        side_box.setContentsMargins(4, 0, 0, 0)
        side_box.addWidget(self.ai)
        side_box.addWidget(self.reading, 1)
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        # The patient line and the hanging: here, or on an image screen (ui/image_screens.py).
        self.image_area = left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self.title)
        left_box.addWidget(self.problems)
        left_box.addWidget(self.hanging, 1)
        split.addWidget(left)
        split.addWidget(side)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        self.side = side
        side.setMinimumWidth(300)
        side.setMaximumWidth(SIDE_WIDTH)
        split.setSizes([1500, 380])
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(split)
        self.walker = StepWalker(self)
        try:
            problem = self.walker.load(ctx.settings.get("hanging.steps"))
        except Exception as exc:  # an unreadable settings file: the default sequence
            problem = f"the settings could not be read ({type(exc).__name__}); " \
                      "the default reading sequence is used"
        if problem:
            log.warning("%s", problem)
        ctx.images.ready.connect(self._image_ready)
        ctx.images.failed.connect(self._image_failed)
        ctx.model_changed.connect(lambda _s: self._ai_state())

    def detach_images(self) -> None:
        """The image area leaves for an image screen; the reading panel gets the room."""
        self.image_area.setParent(None)
        self.side.setMaximumWidth(16777215)

    def attach_images(self) -> None:
        """The image area comes back beside the reading panel."""
        self.split.insertWidget(0, self.image_area)
        self.split.setStretchFactor(0, 1)
        self.side.setMaximumWidth(SIDE_WIDTH)
        self.split.setSizes([1500, 380])
        self.image_area.show()

    def say(self, study: OpenedStudy, text: str) -> None:
        """A status line about `study`: the window shows it only while the study is open."""
        self.study_message.emit(study.uid, text)

    # -- opening ---------------------------------------------------------------

    def leave(self, wait: bool = False) -> None:
        """Keep unsaved edits of the read as a draft before the study goes
        away (another study, the worklist, closing the window)."""
        self.reads.keep_draft(wait)

    def open_study(self, uid: str) -> None:
        self.leave()
        self.study = None
        self.title.setText("opening...")
        self.ai.show_state("opening the study...")
        root = self.ctx.paths.library
        self.ctx.ops.run(lambda: load_library_study(root, uid), self.show_study,
                         lambda m: self.message.emit(m), channel="study")

    def show_study(self, study: OpenedStudy) -> None:
        self.study = study
        self.title.setText(study.patient.shown())
        self.problems.setText("; ".join(f"cannot read {b}" for b in study.unreadable))
        self._before_one_up = "2x2"
        if not self.walker.start():
            self.set_layout("2x2")
        self.reading.setEnabled(study.in_library)
        self.reads.show_reads(study)
        self.reads.hold_ai(study)
        self._ai_state()
        self.study_changed.emit()

    def set_layout(self, name: str) -> None:
        """A layout by its own key (engine.display.hanging.LAYOUTS)."""
        if self.study is None:
            return
        self.walker.leave()
        self.show_hang(hang(self.study.images, name, self.study.prior))

    def show_hang(self, h: Hang) -> None:
        """Lay the hang out and ask for its images."""
        if self.study is None:
            return
        self.layout_name = h.layout
        self.compare = any(c.study for c in h.cells())
        self.hanging.show_hang(h, self._captions(h))
        self.ctx.cache.pin(c.placement.image.key for c in h.cells() if c.placement)
        self._show_findings()
        for tile in self.hanging.visible_tiles():
            cell = tile.cell
            if cell is None or cell.placement is None:
                continue
            item = self.study.files.get(cell.placement.image.key)
            if item is None:
                tile.set_problem("the file is missing")
                continue
            target = (max(tile.height(), 256), max(tile.width(), 256))
            image = cell.placement.image
            self.ctx.images.request(item, target, size=(image.rows, image.columns))
        self._overlays()

    def _captions(self, h: Hang) -> dict[int, str]:
        """Which study each tile shows, by its date, where the hang mixes two."""
        study = self.study
        if study is None or not any(c.study for c in h.cells()):
            return {}
        names = {0: "current", 1: "prior", 2: "prior-2"}
        return {slot: f"{name} {shown_date(study.study_date(slot))}".strip()
                for slot, name in names.items()}

    def toggle_prior(self, view: str = "CC") -> None:
        """Current vs prior of one view (CC or MLO); again: back to the 2x2."""
        if self.study is None:
            return
        if not self.study.prior:
            self.say(self.study, "this patient has no earlier study in the library")
            return
        layout = PRIOR_LAYOUTS[view]
        # A sequence step comparing this view counts as its comparison too.
        shown = {t.cell.view for t in self.hanging.visible_tiles() if t.cell is not None}
        showing = self.layout_name == layout or (self.compare and shown == {view})
        self.set_layout("2x2" if showing else layout)

    def _one_up(self, cell: Cell) -> None:
        if cell.study and self.study is not None:  # the single-view layouts hang the current
            self.say(self.study, "one view alone shows the current study; "
                                 "double-click a current view")
            return
        single = f"{cell.laterality}{cell.view}"
        if self.layout_name == single:
            self.set_layout(self._before_one_up)
            return
        self._before_one_up = self.layout_name
        self.set_layout(single)

    def _place_point(self, key: str, x: float, y: float) -> None:
        """The finding tool's click: where the next finding added lies."""
        self.reading.place_point(key, x, y)
        self.hanging.for_each(lambda t: setattr(t, "tool", "wl"))
        if self.study is not None:
            self.say(self.study, "point placed: describe the finding and press Add finding")

    def _show_findings(self) -> None:
        """The read's findings placed on images, drawn on the tiles that show them."""
        placed = self.reading.placed_findings()
        for tile in self.hanging.visible_tiles():
            key = tile.cell.placement.image.key if tile.cell and tile.cell.placement else None
            tile.findings = [(x, y, label) for uid, x, y, label in placed if uid == key]
            tile.update()

    def _image_ready(self, key: str, view) -> None:
        arrived = False
        for tile in self.hanging.tile_for(key):
            arrived = arrived or tile.view is None
            tile.set_view(view)
        step = self.walker.step
        if arrived and step is not None and step.zoom != "fit":
            self.walker.apply_zoom()  # same size and 1:1 need the image's size

    def _image_failed(self, key: str, reason: str) -> None:
        for tile in self.hanging.tile_for(key):
            tile.set_problem(reason)

    # -- AI -------------------------------------------------------------------

    def _ai_revealed(self, early: bool) -> None:
        self.reads.look = (self.reading.clock.seconds(), early)
        if self.study is not None:
            self.say(self.study, "AI shown before the first look was done (recorded)" if early
                     else "first look done: AI shown")
        self._overlays()

    def toggle_ai(self, overlay: str) -> None:
        """A or H: while the result waits for the first look, asking for it shows
        it early (recorded in the read); otherwise the overlay switches."""
        if self.ai.hidden:
            self.ai.reveal(early=True)
            return
        (self.ai.marks if overlay == "marks" else self.ai.heat).toggle()

    def _ai_state(self) -> None:
        study = self.study
        if study is None:
            return
        if study.result is not None and not self._stale(study):
            self.ai.show_result(study.result)
            self._overlays()
            return
        state = self.ctx.model_state
        if state == LOADING:
            self.ai.show_state("loading the AI model...")
        elif state == NO_MODEL:
            self.ai.show_state(self.ctx.model_text if self.ctx.model_text != "AI off"
                               else "AI is switched off")
        elif state == READY and study.in_library:
            self._analyse(study)
        elif state == READY:
            self.ai.show_state("AI runs on studies in the library; import this folder first")
        else:
            self.ai.show_state(self.ctx.model_text)

    def _stale(self, study: OpenedStudy) -> bool:
        """The stored result is of another model than the one loaded: a library
        study is analysed again by the active model."""
        model, result = self.ctx.model, study.result
        if model is None or result is None or not study.in_library \
                or self.ctx.model_state != READY:
            return False
        return (result.model_name, result.model_version) != (model.get("name"),
                                                              model.get("version"))

    def _analyse(self, study: OpenedStudy) -> None:
        from engine.ai import worker

        device = (self.ctx.model or {}).get("device", "")
        self.ai.show_state(f"analysing on {device}...")
        root, uid = str(self.ctx.paths.library), study.uid

        def work() -> ExamResult:
            return self.ctx.in_ai_process(worker.analyze_library_study, root, uid)

        def done(result: ExamResult) -> None:
            if self.study is study:
                study.result = result
                self._ai_state()

        def failed(message: str) -> None:
            if self.study is study:
                self.ai.show_state(f"AI failed: {message}")

        self.ctx.ai_ops.run(work, done, failed, channel="analyse")

    def _overlays(self) -> None:
        result = self.study.result if self.study else None
        by_uid = {v.sop_instance_uid: v for v in result.views} if result else {}
        marks, heat, opacity = (self.ai.marks.isChecked(), self.ai.heat.isChecked(),
                                self.ai.opacity.value() / 100.0)
        if self.ai.hidden:  # waiting for the first look: nothing of the AI on the images
            by_uid = {}
        for tile in self.hanging.visible_tiles():
            key = tile.cell.placement.image.key if tile.cell and tile.cell.placement else None
            v = by_uid.get(key) if key else None
            tile.show_marks, tile.show_heat, tile.heat_opacity = marks, heat, opacity
            if v is None:
                tile.set_ai([], None, float(HEATMAP_STRIDE_PX), "")
            elif result is not None and result.outside_training:
                asked = self.ai.withheld.isChecked() and v.withheld_marks
                tile.set_ai(v.withheld_marks if asked else [], None, v.heatmap_stride,
                            WITHHELD_NOTE if asked else "")
            else:
                tile.set_ai(v.marks, v.heatmap, v.heatmap_stride, AI_NOTE)

    # -- reading (ui/read_keeper.py) --------------------------------------------

    def reader(self) -> str:
        """The configured reader name, else the login name of this session."""
        return self.reads.reader()

    def save_draft(self, read: Read | None = None) -> None:
        self.reads.save_draft(read)

    def sign(self) -> None:
        self.reads.sign()

    def addendum(self, text: str) -> None:
        self.reads.addendum(text)
