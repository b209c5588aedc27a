"""The reading view's reads: loading the read this reader may see, saving it
as a draft, signing it and adding addenda, all through the operations layer,
then showing the outcome in the reading panel.  Under double reading
(engine.reading.double_reading) the panel waits, read-only, until the read
this reader may see has been loaded."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from engine.library.reads import Read, StoredRead
from engine.library.store import Library
from engine.reading.double_reading import ReaderView
from engine.reading.open_study import OpenedStudy

if TYPE_CHECKING:
    from ui.reading_view import ReadingView

log = logging.getLogger(__name__)


def reads_view(lib: Library, uid: str, reader: str, double: bool) -> tuple[
        StoredRead | None, list[StoredRead], ReaderView | None]:
    """The read `reader` sees of a study, its addenda, and under double
    reading what else they may see (engine.reading.double_reading)."""
    from engine.library.reads import reads_for
    from engine.reading.double_reading import is_double, reader_view

    reads = reads_for(lib, uid)
    mains = [r for r in reads if r.addendum_of is None]
    if not is_double(mains, double):
        return (mains[0] if mains else None,
                [r for r in reads if r.addendum_of is not None], None)
    view = reader_view(mains, reader)
    shown = view.read
    addenda = [r for r in reads if shown is not None and r.addendum_of == shown.id]
    return shown, addenda, view


class ReadKeeper:
    """Loads, saves, signs and shows the reads of the study open in `view`."""

    def __init__(self, view: ReadingView) -> None:
        self.view = view
        # CAD as a second look: when the first look was done (s), whether the AI came earlier.
        self.look: tuple[float | None, bool] = (None, False)

    def reader(self) -> str:
        """The configured reader name, else the login name of this session."""
        import getpass

        try:
            name = self.view.ctx.settings.get("reader.name")
        except Exception:  # an unreadable settings file must not block reading
            name = ""
        if not name:
            try:
                name = getpass.getuser()
            except Exception:
                name = ""
        return name

    def double(self) -> bool:
        """The site reads each study twice (reading.double_reading)."""
        try:
            return self.view.ctx.settings.get("reading.double_reading", "no") == "yes"
        except Exception:  # an unreadable settings file: read once, as by default
            return False

    def hold_ai(self, study: OpenedStudy) -> None:
        """Second look: an unread study's AI result waits for the first look
        (what the read recorded of the first look is kept for the next save)."""
        read = study.read.read if study.read is not None else None
        self.look = (read.ai_first_look_s, read.ai_shown_early) if read else (None, False)
        try:
            second_look = self.view.ctx.settings.get("reading.cad_second_look", "yes") != "no"
        except Exception:  # an unreadable settings file: the default, second look
            second_look = True
        signed = study.read is not None and study.read.signed
        looked = self.look[0] is not None or self.look[1]
        self.view.ai.hold(second_look and study.in_library and not signed and not looked)

    def keep_draft(self, wait: bool = False) -> None:
        """Keep unsaved edits of the read as a draft before the study goes
        away (another study, the worklist, closing the window)."""
        view = self.view
        study = view.study
        if study is None or not study.in_library or not view.reading.dirty \
                or view.reading.locked:
            return
        from engine.library.reads import save_draft

        read, reader, root = self.stamped(), self.reader(), view.ctx.paths.library
        double = self.double()
        view.reading.dirty = False

        def work() -> None:
            with Library(root) as lib:
                save_draft(lib, study.uid, reader, read, double=double)

        if wait:
            try:
                work()
            except Exception as exc:  # closing: say it in the log, never lose silently
                from ui.operations import user_message

                log.error("the draft read could not be saved: %s", user_message(exc))
            return
        # Saved: a line about that study.  Not saved: said whatever is open by then.
        view.ctx.ops.run(work, lambda _r: view.say(study, "unsaved read kept as a draft"),
                         lambda m: view.message.emit(
                             f"the unsaved read could not be kept as a draft: {m}"))

    def show_reads(self, study: OpenedStudy) -> None:
        """The study's read; under double reading none at first (no reader sees
        another's), then the one this reader may see, the form waiting for it."""
        double_read = study.read is not None and study.read.role != "single"
        if double_read:
            study.read, study.addenda = None, []
        self.view.reading.show_read(study.read, study.addenda)
        if study.in_library and (double_read or self.double()):
            self.view.reading.setEnabled(False)
            self.write(None, "")

    def write(self, fn, what: str) -> None:
        """Run `fn` (a save, sign or addendum; None: only load), then show the
        read this reader may see, and `what` (or the line `fn` returns)."""
        view = self.view
        study = view.study
        if study is None or not study.in_library:
            return
        root, reader, double = view.ctx.paths.library, self.reader(), self.double()

        def work():
            with Library(root) as lib:
                said = fn(lib, study.uid) if fn is not None else None
                return (reads_view(lib, study.uid, reader, double),
                        said if isinstance(said, str) else what)

        def done(result: tuple[tuple[StoredRead | None, list[StoredRead], ReaderView | None],
                               str]) -> None:
            if view.study is not study:
                return
            (study.read, study.addenda, shown), said = result
            view.reading.show_read(study.read, study.addenda)
            if shown is not None:
                view.reading.show_double(shown.line, shown.others, shown.refused)
                view.reading.setEnabled(True)
                self.hold_ai(study)
            if said:
                view.say(study, said)
            view.study_changed.emit()

        view.ctx.ops.run(work, done, lambda m: view.say(study, m))

    def stamped(self, read: Read | None = None) -> Read:
        """The read in the form, with what the second look recorded."""
        read = read or self.view.reading.read()
        read.ai_first_look_s, read.ai_shown_early = self.look
        return read

    def save_draft(self, read: Read | None = None) -> None:
        from engine.library.reads import save_draft

        read = self.stamped(read)
        reader, double = self.reader(), self.double()
        self.write(lambda lib, uid: save_draft(lib, uid, reader, read, double=double),
                   "draft saved")

    def sign(self) -> None:
        from engine.library.double_reads import stage
        from engine.library.reads import sign

        read, reader, double = self.stamped(), self.reader(), self.double()

        # Signing locks the read and, once the study's reading is decided,
        # queues the study for the cloud in the same transaction; the sync
        # process does the network work.
        def work(lib, uid: str) -> str:
            sign(lib, uid, reader, read, double=double)
            now = stage(lib, uid)
            return "read signed and locked; " + ("queued for the cloud" if now.decided
                                                 else f"double reading: {now.name}")

        self.write(work, "read signed and locked")

    def addendum(self, text: str) -> None:
        from engine.library.reads import add_addendum

        reader = self.reader()
        self.write(lambda lib, uid: add_addendum(lib, uid, reader, text), "addendum added")
