"""Assemble a sync runner from the settings, the keyring and the library.

The command line and the GUI both start sync through here, so both check
the same things in the same order and fail with the same one-line errors:
cloud settings (URL, plain http, CA file), the stored credentials, the
site's de-identification key.  One sync runs per library at a time (a lock
file the operating system releases even when the process is killed).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import filelock

from engine.library.store import Library
from engine.paths import AppPaths
from engine.settings import Settings
from sync.auth import make_auth
from sync.config import cloud_config
from sync.deid.deidentify import Deidentifier
from sync.deid.keys import load_site_keys
from sync.deid.profile import profile_from_settings
from sync.deid.reid_map import ReidMap
from sync.errors import SyncError
from sync.http import make_session
from sync.progress import ProgressFile
from sync.retry import Backoff
from sync.runner import SyncRunner
from sync.stage import Stager

OUTBOX_FOLDER = "outbox"
LOCK_NAME = "sync.lock"


@contextlib.contextmanager
def sync_lock(library: Library) -> Iterator[None]:
    lock = filelock.FileLock(library.root / LOCK_NAME, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise SyncError("another MammoDesk sync is already running on this library") from None
    try:
        yield
    finally:
        lock.release()


def build_runner(paths: AppPaths, library: Library, *, once: bool,
                 stop: threading.Event | None = None,
                 say: Callable[[str], None] | None = None,
                 backoff: Backoff | None = None) -> SyncRunner:
    settings = Settings(paths.config)
    values = settings.all()
    cfg = cloud_config(values)
    session = make_session(cfg)
    auth = make_auth(cfg, session)
    keys = load_site_keys()
    deid = Deidentifier(profile_from_settings(values), keys)
    stager = Stager(library, library.root / OUTBOX_FOLDER, deid, ReidMap(library, keys.map_key),
                    keys=keys)
    return SyncRunner(library, settings, cfg, session, auth, stager, once=once, stop=stop,
                      backoff=backoff, status=ProgressFile(library.root), say=say)
