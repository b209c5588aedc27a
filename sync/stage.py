"""Prepare queued objects for upload: de-identify, leak-check, stage on disk.

Each object is de-identified from the library's own file (images) or built
from the library's records (the AI's CAD SR, the radiologist's assessment
SR), leak-checked, and written to the outbox folder under its pseudonymous
UIDs (temp file + fsync + rename).  Only then is it marked de-identified.
De-identification is deterministic (keyed pseudonyms), so an object prepared
twice, after a crash, comes out with the same UIDs: the server sees one
instance, never two.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import UID

from engine.ai.cad_sr import build_cad_sr
from engine.ai.store import result_by_id
from engine.errors import MammoDeskError
from engine.library import outbox
from engine.library.catalog import stored_file, study_files
from engine.library.reads import current_read
from engine.library.store import Library
from engine.reporting.assessment_sr import build_assessment_sr
from sync.deid.deidentify import Deidentifier
from sync.deid.folder import write_atomically
from sync.deid.keys import SiteKeys
from sync.deid.reid_map import ReidMap
from sync.errors import SyncError
from sync.stage_pool import Prepared, PreparePool, prepare_dataset, prepare_file

log = logging.getLogger(__name__)


def _report_uid(study_uid: str, source: str, what: str) -> str:
    """A stable UID for a report MammoDesk builds (same source, same UID)."""
    digest = hashlib.sha256(f"mammodesk-report\0{study_uid}\0{source}\0{what}".encode()).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


class Stager:
    def __init__(self, library: Library, root: Path, deid: Deidentifier,
                 reid: ReidMap | None = None, *, keys: SiteKeys | None = None,
                 workers: int | None = None) -> None:
        self.library = library
        self.root = Path(root)
        self.deid = deid
        self.reid = reid
        workers = workers if workers is not None else (os.cpu_count() or 1)
        self.pool = (PreparePool(deid.profile, keys, workers)
                     if keys is not None and workers > 1 else None)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()

    def staged_path(self, rel: str) -> Path:
        return self.root / rel

    def prepare(self, items: list[outbox.Item],
                on_item: Callable[[outbox.Item], None] | None = None) -> None:
        """Prepare every queued item of one study (images first, then reports)."""
        queued = [i for i in items if i.state == outbox.QUEUED]
        self._images([i for i in queued if i.kind == outbox.IMAGE], on_item)
        headers: list[Dataset] | None = None
        for item in (i for i in queued if i.kind != outbox.IMAGE):
            if headers is None:
                headers = self._headers(item.study_uid)
            self._report(item, headers)
            if on_item:
                on_item(item)

    # -- images ----------------------------------------------------------
    def _images(self, items: list[outbox.Item],
                on_item: Callable[[outbox.Item], None] | None) -> None:
        found: list[tuple[outbox.Item, Path]] = []
        compressed = False
        for item in items:
            stored = stored_file(self.library, item.source)
            if stored is None:
                outbox.set_state(self.library, [item.id], outbox.FAILED,
                                 error="the image is no longer in the library")
                continue
            found.append((item, stored.path))
            ts = UID(stored.transfer_syntax_uid)
            compressed |= ts.is_transfer_syntax and ts.is_compressed
        if self.pool is not None and compressed and len(found) > 1:
            try:
                for (item, _), prepared in zip(found, self.pool.map(
                        [path for _, path in found]), strict=True):
                    self._store(item, prepared)
                    found = found[1:]
                    if on_item:
                        on_item(item)
                return
            except BrokenProcessPool:  # a worker died (memory?): go on in this process
                log.warning("a de-identification worker stopped; continuing without workers")
                self.pool.close()
                self.pool = None
        for item, path in found:
            self._store(item, prepare_file(self.deid, path))
            if on_item:
                on_item(item)

    # -- reports ---------------------------------------------------------
    def _headers(self, study_uid: str) -> list[Dataset]:
        out: list[Dataset] = []
        for path in sorted(f.path for f in study_files(self.library, study_uid)):
            try:
                out.append(pydicom.dcmread(path, stop_before_pixels=True))
            except Exception as exc:
                log.warning("an image header of a queued study is unreadable: %s",
                            type(exc).__name__)
        return out

    def _report(self, item: outbox.Item, headers: list[Dataset]) -> None:
        try:
            ds = self._build(item, headers)
        except MammoDeskError as exc:
            outbox.set_state(self.library, [item.id], outbox.FAILED, error=str(exc))
            return
        except Exception as exc:  # an image header pydicom cannot read (a VR that does not fit)
            # Its message may quote the value (patient data): the type only.
            log.warning("a report of a queued study cannot be built: %s", type(exc).__name__)
            outbox.set_state(self.library, [item.id], outbox.FAILED,
                             error="the report cannot be built: an image header is malformed "
                                   f"({type(exc).__name__})")
            return
        if ds is None:
            outbox.set_state(self.library, [item.id], outbox.FAILED,
                             error="what this report was made from is no longer in the library")
            return
        ds.SeriesInstanceUID = _report_uid(item.study_uid, item.source, "series")
        ds.SOPInstanceUID = _report_uid(item.study_uid, item.source, "instance")
        self._store(item, prepare_dataset(self.deid, ds, own_report=True))

    def _build(self, item: outbox.Item, headers: list[Dataset]) -> Dataset | None:
        ident = item.source.partition(":")[2]
        if item.kind == outbox.CAD_SR:
            result = result_by_id(self.library, int(ident))
            if result is None:
                return None
            return build_cad_sr(result, headers)
        if item.kind == outbox.ASSESSMENT_SR:
            # The study's decisive read: its single read, or under double
            # reading the final one (agreed or arbitrated), whichever read
            # the queued item names (the last one signed).
            read = current_read(self.library, item.study_uid)
            if read is None or read.read is None or not read.signed:
                return None
            return build_assessment_sr(read.read, headers, signed_at=str(read.signed_at),
                                       include_text=False)
        raise MammoDeskError(f"unknown outbox object kind {item.kind!r}")

    # -- both --------------------------------------------------------------
    def _store(self, item: outbox.Item, prepared: Prepared) -> None:
        if prepared.status == "failed":
            outbox.set_state(self.library, [item.id], outbox.FAILED, error=prepared.reason)
            return
        if prepared.status != "clean":
            outbox.set_state(self.library, [item.id], outbox.QUARANTINED, error=prepared.reason)
            return
        rel = f"{prepared.study_uid}/{prepared.sop_uid}.dcm"
        try:
            write_atomically(prepared.data, self.root / rel)
        except OSError as exc:
            raise SyncError(f"cannot write to the outbox folder {self.root}: "
                            f"{exc.strerror or exc}") from None
        if self.reid is not None and prepared.reid:
            self.reid.record(prepared.reid)
        outbox.mark_staged(self.library, item.id, staged=rel, size=len(prepared.data),
                           out_study_uid=prepared.study_uid, out_sop_uid=prepared.sop_uid)

    def discard(self, item: outbox.Item) -> None:
        """Remove a staged file once the server has confirmed it."""
        if item.staged:
            path = self.root / item.staged
            try:
                path.unlink(missing_ok=True)
                if path.parent != self.root and not any(path.parent.iterdir()):
                    os.rmdir(path.parent)
            except OSError:
                pass

