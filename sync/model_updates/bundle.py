"""Model updates on a removable disk, for clinics without a network.

``export_bundle`` runs on a connected machine.  It copies from the model
repository (models.url) what a workstation needs to verify offline: every
root version from 1, timestamp.json, the snapshot, targets and channel
metadata they name, and the newest package of each model on the configured
channel.  The copy is laid out like the repository (metadata/, targets/) with
a bundle.json beside it, verified with ngclient against this machine's
trusted root, and only then renamed into place: a bundle that does not
verify, or a disk that fills up, leaves no bundle folder behind.

Importing one is sync.model_updates.bundle_import; the bundle's fetcher
(files of the folder in place of HTTP) is here, shared by both.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.ngclient import FetcherInterface, UpdaterConfig

from engine.ai.package_manifest import fsync_dir, fsync_tree
from engine.paths import AppPaths
from sync.model_updates import client
from sync.model_updates.errors import (
    ModelRepoRejected,
    ModelUpdateConfigError,
    ModelUpdateError,
)
from sync.model_updates.repo import (
    ModelUpdater,
    RepoConfig,
    VerifiedFetcher,
    as_update_error,
    newest_target,
    seed_cache,
    tls_context,
)

BUNDLE_FILE = "bundle.json"
KIND = "MammoDesk model bundle"
FORMAT = 1
GRACE_KEY = "models.bundle_grace_days"
MAX_GRACE_DAYS = 365
BASE_URL = "bundle:///"  # ngclient's URLs for the bundle; BundleFetcher maps them to the folder
CHANNEL_PROBE = ".channel"  # a path under the channel that names no target
_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
_ROOT_FILE = re.compile(r"metadata/[0-9]+\.root\.json")
MAX_BUNDLE_JSON = 64 * 1024
_LIMITS = UpdaterConfig()


@dataclass(frozen=True)
class ImportResult:
    active: str | None  # version of the active model, None when there is none
    candidate: str | None  # version imported now or earlier and not yet activated
    name: str | None  # the model name the candidate is for
    fetched: bool  # whether this import kept a new candidate
    reason: str  # one line for the user
    warnings: tuple[str, ...]  # expired metadata accepted within the grace
    made: str  # when the bundle was made (from bundle.json)


class BundleFetcher(FetcherInterface):
    """Serves ngclient's bundle:/// requests from a bundle folder.

    Only ``metadata/`` and ``targets/`` paths made of plain names are served,
    and only regular files that stay inside the folder after links resolve.
    A missing ``N.root.json`` answers 404 (ngclient's sign that no newer root
    exists); any other missing file refuses the bundle.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder).resolve()

    def _fetch(self, url: str) -> Iterator[bytes]:
        # A generator: errors surface while ngclient reads, unwrapped.
        rel = url[len(BASE_URL):] if url.startswith(BASE_URL) else ""
        parts = rel.split("/")
        if len(parts) < 2 or parts[0] not in ("metadata", "targets") or not all(
                _SAFE_PART.fullmatch(p) and ".." not in p for p in parts):
            raise ModelRepoRejected(f"the bundle names an unsafe path ({rel[:80]!r})")
        path = self.folder.joinpath(*parts).resolve()
        if not path.is_relative_to(self.folder):
            raise ModelRepoRejected(f"the bundle's {rel[:80]} leads outside the bundle")
        if not path.is_file():
            if _ROOT_FILE.fullmatch(rel):
                raise tuf_errors.DownloadHTTPError("not in the bundle", 404)
            raise ModelRepoRejected(f"the bundle is incomplete: it lacks {rel[:120]}")
        with open(path, "rb") as f:
            while chunk := f.read(1024 * 1024):
                yield chunk


def grace_days(settings: dict[str, str]) -> int:
    """models.bundle_grace_days as a number of days (0, no grace, when unset)."""
    text = str(settings.get(GRACE_KEY, "") or "").strip() or "0"
    if not text.isdigit() or int(text) > MAX_GRACE_DAYS:
        raise ModelUpdateConfigError(f"{GRACE_KEY} must be a whole number of days from 0 "
                                     f"to {MAX_GRACE_DAYS}")
    return int(text)


# ----------------------------------------------------------------- export

def export_bundle(paths: AppPaths, settings: dict[str, str], out: Path) -> dict[str, Any]:
    """Write a verified bundle of the configured repository and channel to ``out``
    (a new or empty folder); returns the bundle.json facts and the folder."""
    config = client.model_config(paths, settings)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ModelUpdateConfigError(f"{out} is not an empty folder; refusing to write a "
                                     "bundle there")
    if not out.parent.is_dir():
        raise ModelUpdateConfigError(f"no folder {out.parent} to write the bundle in")
    work = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        work.mkdir()
        facts = _export_into(config, work)
        fsync_tree(work)
        if out.exists():
            out.rmdir()
        work.rename(out)
        fsync_dir(out.parent)
    except OSError as exc:
        raise ModelUpdateError(f"cannot write the bundle: "
                               f"{exc.strerror or type(exc).__name__}") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return facts | {"folder": str(out)}


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _export_into(config: RepoConfig, work: Path) -> dict[str, Any]:
    http = VerifiedFetcher(tls_context(config.ca_bundle), config.proxy, config.timeout_s)

    def copy(name: str, limit: int) -> bytes:
        if not _SAFE_PART.fullmatch(name):
            raise ModelRepoRejected(f"the repository names unsafe metadata ({name[:80]!r})")
        data = http.download_bytes(f"{config.url}metadata/{name}", limit)
        _write(work / "metadata" / name, data)
        return data

    try:
        root = b""
        for version in range(1, _LIMITS.max_root_rotations + 1):
            try:
                root = copy(f"{version}.root.json", _LIMITS.root_max_length)
            except tuf_errors.DownloadHTTPError as exc:
                if exc.status_code not in (403, 404) or not root:
                    raise
                break
        # Read unverified only to know what to copy; verified below as a whole.
        consistent = Metadata[Root].from_bytes(root).signed.consistent_snapshot
        ts = Metadata[Timestamp].from_bytes(copy("timestamp.json",
                                                 _LIMITS.timestamp_max_length))
        meta = ts.signed.snapshot_meta
        snap = Metadata[Snapshot].from_bytes(copy(
            f"{meta.version}.snapshot.json" if consistent else "snapshot.json",
            meta.length or _LIMITS.snapshot_max_length))
        for name, info in snap.signed.meta.items():
            copy(f"{info.version}.{name}" if consistent else name,
                 info.length or _LIMITS.targets_max_length)
        packages = _verify_and_copy_targets(config, work, http)
    except (ModelUpdateError, OSError):
        raise  # an OSError is the bundle's disk: export_bundle says so
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelRepoRejected(f"the repository's metadata is unreadable "
                                f"({type(exc).__name__})") from exc
    except Exception as exc:
        raise as_update_error(exc) from exc
    facts = {"kind": KIND, "format": FORMAT,
             "made": datetime.now(UTC).replace(microsecond=0).isoformat(),
             "channel": config.channel, "url": client.public_url(config.url),
             "timestamp_version": ts.signed.version, "packages": packages}
    _write(work / BUNDLE_FILE, json.dumps(facts, indent=2).encode())
    return facts


def _verify_and_copy_targets(config: RepoConfig, work: Path,
                             http: FetcherInterface) -> list[dict[str, Any]]:
    """Verify the copied metadata with ngclient, starting from this machine's
    trusted root and newest timestamp, then copy the newest package of each
    model in the channel, checked against its signed length and hashes."""
    with tempfile.TemporaryDirectory(prefix="mammodesk-bundle-") as tmp:
        cache = Path(tmp)
        try:
            with FileLock(str(config.cache / ".lock"), timeout=client.LOCK_TIMEOUT_S):
                seed_cache(config)  # as a check would: models.root may have changed
                shutil.copyfile(config.cache / "root.json", cache / "root.json")
                if (config.cache / "timestamp.json").is_file():  # rollback protection
                    shutil.copyfile(config.cache / "timestamp.json",
                                    cache / "timestamp.json")
        except Timeout:
            raise ModelUpdateError("a model check or import is still running; try again "
                                   "when it has finished") from None
        updater = bundle_updater(cache, work)
        updater.refresh()
        updater.get_targetinfo(f"{config.channel}/{CHANNEL_PROBE}")
        role = Metadata[Targets].from_file(str(cache / f"{config.channel}.json"))
        names = sorted({t.custom["name"] for t in role.signed.targets.values()
                        if isinstance((t.custom or {}).get("name"), str)})
        packages = []
        for name in names:
            found = newest_target(updater, cache, config.channel, name, None)
            if found is None:
                continue
            info = found[0]
            digest = next(iter(info.hashes.values()))
            folder, _, base = info.path.rpartition("/")
            stored = f"{folder}/{digest}.{base}" if folder else f"{digest}.{base}"
            if not all(_SAFE_PART.fullmatch(p) for p in stored.split("/")):
                raise ModelRepoRejected(f"the repository names an unsafe target "
                                        f"({info.path[:80]!r})")
            dest = work / "targets" / stored
            dest.parent.mkdir(parents=True, exist_ok=True)
            with http.download_file(f"{config.url}targets/{stored}", info.length) as f:
                info.verify_length_and_hashes(f)
                f.seek(0)
                with open(dest, "wb") as d:
                    shutil.copyfileobj(f, d)
            packages.append({"name": name, "version": info.custom["version"],
                             "target": info.path})
    return packages


def bundle_updater(cache: Path, folder: Path) -> ModelUpdater:
    return ModelUpdater(metadata_dir=str(cache), metadata_base_url=BASE_URL + "metadata/",
                        target_base_url=BASE_URL + "targets/", fetcher=BundleFetcher(folder))
