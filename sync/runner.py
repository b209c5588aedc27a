"""The sync loop: prepare queued objects, upload them, confirm them.

For each study in the outbox, oldest first: de-identify and stage what is
queued; send the staged objects with STOW-RS in batches under a size cap;
ask the server with QIDO-RS which of them it now has, and mark only those
confirmed.  Objects resumed after a crash or a failed attempt are looked up
on the server first, so nothing is sent twice that need not be.

Failures decide what happens next (sync/errors.py): a dropped connection,
a 5xx, a 429/503, an answer over its size cap or a request past its deadline
(sync/bounded.py) wait and retry with exponential backoff and full jitter
(Retry-After honoured); "offline" waits for the network (or, with
``once``, stops with everything still queued); bad credentials, an
untrusted certificate, unsafe settings or a redirect away from cloud.url stop
the loop, queue intact.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import requests

from engine.errors import MammoDeskError
from engine.library import outbox
from engine.library.store import Library
from engine.settings import Settings
from sync import dicomweb
from sync import progress as prog
from sync.config import CloudConfig
from sync.dicomweb import BatchTooLargeError
from sync.errors import OfflineError, RejectedError, TransientError
from sync.multipart import SourceChangedError
from sync.retry import Backoff
from sync.stage import Stager

T = TypeVar("T")
DEFAULT_BATCH_MB = 64.0
MAX_BATCH_OBJECTS = 200
MAX_TRIES_ONCE = 8           # transient failures in a row before `--once` gives up
MAX_CONFIRM_MISSES = 5       # uploads the server did not keep before an object fails
OFFLINE_CAP_S = 300.0


@dataclass
class RunResult:
    confirmed: int = 0
    failed: int = 0
    quarantined: int = 0
    pending: int = 0
    stopped_by: str = ""     # "", "offline", "paused", "stop"


class Stop(Exception):
    """Stop was asked for (signal, GUI closing, pause)."""


class SyncRunner:
    def __init__(self, library: Library, settings: Settings, cfg: CloudConfig,
                 session: requests.Session, auth: object, stager: Stager, *,
                 once: bool = True, stop: threading.Event | None = None,
                 backoff: Backoff | None = None, status: prog.ProgressFile | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.library = library
        self.settings = settings
        self.cfg = cfg
        self.session = session
        self.auth = auth
        self.stager = stager
        self.once = once
        self.stop = stop or threading.Event()
        self.backoff = backoff or Backoff()
        self.status = status or prog.ProgressFile(library.root)
        self.say = say or (lambda _m: None)
        self.meter = prog.RateMeter()
        self.result = RunResult()
        self._sent_before = 0

    # -- settings read on every pass, so pause/resume and caps apply at once -------
    def _setting(self, key: str) -> str:
        try:
            return self.settings.get(key)
        except MammoDeskError:  # an unreadable settings file: defaults, keep sending
            return ""

    def _paused(self) -> bool:
        return self._setting("sync.paused") == "yes"

    def _rate_limit(self) -> float | None:
        value = self._setting("sync.bandwidth_kib_s")
        return float(value) * 1024 if value else None

    def _batch_bytes(self) -> int:
        value = self._setting("sync.batch_mb")
        return int(float(value or DEFAULT_BATCH_MB) * 1024 * 1024)

    def _wait(self, seconds: float) -> None:
        if self.stop.wait(max(0.0, seconds)):
            raise Stop

    # -- the loop ------------------------------------------------------------
    def run(self) -> RunResult:
        outbox.recover(self.library)
        try:
            while True:
                if self.stop.is_set():
                    raise Stop
                if self._paused():
                    self.status.update(force=True, phase=prog.PAUSED,
                                       message="sync is paused", next_try_in_s=None)
                    if self.once:
                        self.result.stopped_by = "paused"
                        break
                    self._wait(2.0)
                    continue
                if self._setting("sync.auto_enqueue") == "yes":
                    outbox.enqueue_unsent(self.library)
                studies = outbox.open_studies(self.library)
                if not studies:
                    self.status.update(force=True, phase=prog.IDLE, message="nothing to send",
                                       bytes_done=0, bytes_total=0, rate_bps=0.0)
                    if self.once:
                        break
                    self._wait(10.0)
                    continue
                self._plan()
                for box, _uid in studies:
                    self._study(box)
        except Stop:
            self.result.stopped_by = self.result.stopped_by or "stop"
        except OfflineError as exc:
            self.result.stopped_by = "offline"
            self.status.update(force=True, phase=prog.OFFLINE, message=str(exc))
            raise
        finally:
            self.stager.close()  # worker processes, if any were started
            self.tally()
            if self.result.stopped_by != "offline":
                self.status.update(force=True, phase=prog.DONE if self.once else prog.STOPPED)
        return self.result

    def tally(self) -> None:
        counts = outbox.counts(self.library)
        self.result.confirmed = counts[outbox.CONFIRMED]["objects"]
        self.result.failed = counts[outbox.FAILED]["objects"]
        self.result.quarantined = counts[outbox.QUARANTINED]["objects"]
        self.result.pending = sum(counts[s]["objects"] for s in outbox.PENDING)

    def _plan(self) -> None:
        counts = outbox.counts(self.library)
        total = sum(counts[s]["bytes"] for s in outbox.PENDING)
        self._sent_before = 0
        self.status.update(force=True, bytes_done=0, bytes_total=total)

    # -- one study -----------------------------------------------------------
    def _study(self, box: int) -> None:
        queued = outbox.items(self.library, box, [outbox.QUEUED])
        if queued:
            self.status.update(force=True, phase=prog.PREPARING,
                               message=f"de-identifying {len(queued)} objects")
            self.stager.prepare(queued, on_item=lambda _i: self._check_stop())
        ready = outbox.items(self.library, box, [outbox.DEIDENTIFIED])
        if ready and any(i.attempts for i in ready):
            self._confirm(box, ready)  # resumed: the server may have them already
            ready = outbox.items(self.library, box, [outbox.DEIDENTIFIED])
        for batch in _batches(ready, self._batch_bytes()):
            self._check_stop()
            self._send(batch)
        sent = outbox.items(self.library, box, [outbox.UPLOADING])
        if sent:
            self._confirm(box, sent)
        state = outbox.settle_study(self.library, box)
        if state == outbox.StudyState.CONFIRMED:
            self.say("a study was confirmed by the cloud")

    def _check_stop(self) -> None:
        if self.stop.is_set():
            raise Stop
        if self._paused():
            self.result.stopped_by = "paused"
            raise Stop

    def _send(self, batch: list[outbox.Item]) -> None:
        study = batch[0].out_study_uid or ""
        files = [(self.stager.staged_path(i.staged or ""), i.out_sop_uid or "") for i in batch]
        missing = [i for i, (path, _) in zip(batch, files, strict=True) if not path.is_file()]
        if missing:  # staged file lost (disk cleanup): prepare it again
            outbox.set_state(self.library, [i.id for i in missing], outbox.QUEUED,
                             error="the staged file was missing; prepared again")
            return
        outbox.set_state(self.library, [i.id for i in batch], outbox.UPLOADING,
                         count_attempt=True)
        base = self._sent_before

        def progress(sent: int) -> None:
            self.meter.add(base + sent)
            self.status.update(phase=prog.UPLOADING, bytes_done=base + sent,
                               rate_bps=self.meter.rate(), message="uploading")
            if self.stop.is_set():
                raise Stop  # aborts the request; the batch is sent again next time

        try:
            result = self._call(lambda: dicomweb.stow(
                self.session, self.cfg.url, study, files, auth=self.auth,
                timeout=(self.cfg.connect_timeout, self.cfg.read_timeout),
                rate_limit=self._rate_limit(), on_progress=progress,
                deadline=self.cfg.request_deadline, min_rate=self.cfg.min_upload_rate))
        except SourceChangedError:
            outbox.set_state(self.library, [i.id for i in batch], outbox.QUEUED,
                             error="a staged file changed on disk; prepared again")
            return
        except RejectedError as exc:
            if isinstance(exc, BatchTooLargeError) and len(batch) > 1:
                outbox.set_state(self.library, [i.id for i in batch], outbox.DEIDENTIFIED)
                half = len(batch) // 2
                self._send(batch[:half])
                self._send(batch[half:])
                return
            outbox.set_state(self.library, [i.id for i in batch], outbox.FAILED, error=str(exc))
            return
        except BaseException:
            outbox.set_state(self.library, [i.id for i in batch], outbox.DEIDENTIFIED)
            raise
        self._sent_before += sum(i.size for i in batch)
        by_uid = {i.out_sop_uid: i for i in batch}
        for uid, reason in result.failed.items():
            if uid in by_uid:
                outbox.set_state(self.library, [by_uid[uid].id], outbox.FAILED, error=reason)
        retry = [by_uid[u] for u in result.retry if u in by_uid]
        for item in retry:
            worn = item.attempts + 1 >= MAX_CONFIRM_MISSES
            outbox.set_state(self.library, [item.id], outbox.FAILED if worn else
                             outbox.DEIDENTIFIED, error="the server could not store it this time")

    def _confirm(self, box: int, candidates: list[outbox.Item]) -> None:
        self.status.update(force=True, phase=prog.CONFIRMING, message="confirming")
        present: set[str] = set()
        for study in {i.out_study_uid for i in candidates if i.out_study_uid}:
            expected = {i.out_sop_uid for i in candidates
                        if i.out_study_uid == study and i.out_sop_uid}
            present |= self._call(functools.partial(
                dicomweb.qido_instances, self.session, self.cfg.url, study, expected=expected,
                auth=self.auth, timeout=(self.cfg.connect_timeout, self.cfg.read_timeout),
                deadline=self.cfg.request_deadline))
        done = [i for i in candidates if i.out_sop_uid in present]
        outbox.set_state(self.library, [i.id for i in done], outbox.CONFIRMED)
        for item in done:
            self.stager.discard(item)
        for item in candidates:
            if item.out_sop_uid in present or item.state != outbox.UPLOADING:
                continue
            if item.attempts >= MAX_CONFIRM_MISSES:
                outbox.set_state(self.library, [item.id], outbox.FAILED,
                                 error="the server accepted it but does not list it")
            else:
                outbox.set_state(self.library, [item.id], outbox.DEIDENTIFIED,
                                 error="not listed by the server after upload; sent again")

    # -- retries -------------------------------------------------------------
    def _call(self, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            self._check_stop()
            try:
                return fn()
            except TransientError as exc:
                attempt += 1
                if self.once and attempt >= MAX_TRIES_ONCE:
                    raise
                delay = self.backoff.delay(attempt - 1, exc.retry_after)
                self.status.update(force=True, phase=prog.RETRYING, next_try_in_s=delay,
                                   message=f"{exc}; trying again in {delay:.0f} s")
                self.say(f"{exc}; trying again in {delay:.0f} s")
            except OfflineError as exc:
                if self.once:
                    raise
                attempt += 1
                delay = min(OFFLINE_CAP_S, self.backoff.delay(attempt - 1))
                self.status.update(force=True, phase=prog.OFFLINE, next_try_in_s=delay,
                                   message=f"offline: {exc}")
            self._wait(delay)


def _batches(items: list[outbox.Item], cap_bytes: int) -> list[list[outbox.Item]]:
    """Group staged objects per study into requests under the size cap."""
    out: list[list[outbox.Item]] = []
    current: list[outbox.Item] = []
    size = 0
    for item in sorted(items, key=lambda i: (i.out_study_uid or "", i.id)):
        same_study = not current or current[0].out_study_uid == item.out_study_uid
        if current and (not same_study or size + item.size > cap_bytes
                        or len(current) >= MAX_BATCH_OBJECTS):
            out.append(current)
            current, size = [], 0
        current.append(item)
        size += item.size
    if current:
        out.append(current)
    return out
