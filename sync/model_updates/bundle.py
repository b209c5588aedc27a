"""Model updates on a removable disk, for clinics without a network.

``export_bundle`` runs on a connected machine.  It copies from the model
repository (models.url) what a workstation needs to verify offline: every
root version from 1, timestamp.json, the snapshot, targets and channel
metadata they name, and the newest package of each model on the configured
channel.  The copy is laid out like the repository (metadata/, targets/) with
a bundle.json beside it, verified with ngclient against this machine's
trusted root, and only then renamed into place: a bundle that does not
verify, or a disk that fills up, leaves no bundle folder behind.

``import_bundle`` runs ngclient over the bundle folder (BundleFetcher
instead of HTTP) with the same metadata cache as ``models check``, so a
bundle older than anything the workstation has seen is refused.  Expired
timestamp or snapshot metadata is accepted up to models.bundle_grace_days
days late, always with a warning; ngclient has no option for this, so the
Updater's reference time for expiry is moved back by the grace (the
"slack time" the TUF specification discusses), and the root, targets and
channel metadata are then checked against the real time.  A newer package is
kept as a candidate (client.fetch_candidate), not activated, and the update
log gets an ``imported_bundle`` entry with the bundle.json facts, never the
bundle's location.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp
from tuf.ngclient import FetcherInterface, UpdaterConfig

from engine.ai import update_log
from engine.ai.activation import candidates
from engine.ai.package import ModelPackage, active_package, list_packages, parse_version
from engine.ai.package_manifest import fsync_dir, fsync_tree
from engine.paths import AppPaths
from engine.resources import builtin_model_dir
from engine.settings import MODEL_CHANNELS
from sync.model_updates import client
from sync.model_updates.errors import (
    ModelRepoOffline,
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
_BASE = "bundle:///"  # ngclient's URLs for the bundle; BundleFetcher maps them to the folder
_PROBE = ".channel"  # a path under the channel that names no target
_SAFE_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
_ROOT_FILE = re.compile(r"metadata/[0-9]+\.root\.json")
_MAX_BUNDLE_JSON = 64 * 1024
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
        rel = url[len(_BASE):] if url.startswith(_BASE) else ""
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
        updater = _bundle_updater(cache, work)
        updater.refresh()
        updater.get_targetinfo(f"{config.channel}/{_PROBE}")
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


def _bundle_updater(cache: Path, folder: Path) -> ModelUpdater:
    return ModelUpdater(metadata_dir=str(cache), metadata_base_url=_BASE + "metadata/",
                        target_base_url=_BASE + "targets/", fetcher=BundleFetcher(folder))


# ----------------------------------------------------------------- import

def import_bundle(paths: AppPaths, settings: dict[str, str], bundle: Path,
                  grace_days: int) -> ImportResult:
    """Verify ``bundle`` like an online check and keep a newer package as a candidate.

    ``grace_days``: how late expired timestamp or snapshot metadata may be
    (``grace_days(settings)``); 0 accepts none.
    """
    if not 0 <= grace_days <= MAX_GRACE_DAYS:
        raise ModelUpdateConfigError(f"{GRACE_KEY} must be a whole number of days from 0 "
                                     f"to {MAX_GRACE_DAYS}")
    root = str(settings.get("models.root", "") or "").strip()
    if not root:
        raise ModelUpdateConfigError("the repository's trusted root is not installed: "
                                     "set models.root")
    if not Path(root).is_file():
        raise ModelUpdateConfigError(f"no trusted root file at {root} (models.root)")
    channel = str(settings.get("models.channel", "") or "").strip() or "stable"
    if channel not in MODEL_CHANNELS:
        raise ModelUpdateConfigError(f"models.channel must be one of {', '.join(MODEL_CHANNELS)}")
    config = RepoConfig(url=_BASE, trusted_root=Path(root), channel=channel,
                        cache=paths.cache / "model-updates")
    facts = _read_facts(Path(bundle))
    if facts["channel"] != channel:
        raise ModelRepoRejected(f"the bundle is for the {facts['channel']} channel; this "
                                f"workstation follows {channel} (models.channel)")
    base = {"source": "bundle", "url": facts["url"], "channel": channel,
            "bundle_made": facts["made"]}
    config.cache.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(config.cache / ".lock"), timeout=client.LOCK_TIMEOUT_S):
            return _import_locked(config, paths.models, Path(bundle), grace_days, base)
    except Timeout:
        raise ModelUpdateError("a model check or import is still running; try again when "
                               "it has finished") from None


def _read_facts(bundle: Path) -> dict[str, str]:
    path = bundle / BUNDLE_FILE
    try:
        if path.stat().st_size > _MAX_BUNDLE_JSON:
            raise ValueError("too big")
        doc = json.loads(path.read_bytes())
        facts = {k: doc[k] for k in ("made", "channel", "url")}
        if doc.get("kind") != KIND or not all(isinstance(v, str) and len(v) <= 500
                                              for v in facts.values()):
            raise ValueError("not a bundle")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise ModelRepoRejected("not a MammoDesk model bundle (no readable "
                                f"{BUNDLE_FILE})") from None
    return facts | {"url": client.public_url(facts["url"])}


def _import_locked(config: RepoConfig, models_root: Path, bundle: Path, grace: int,
                   base: dict[str, Any]) -> ImportResult:
    log = update_log.log_path(models_root)
    active, name, floor, cand = _known(models_root)
    now = datetime.now(UTC)
    notes: list[str] = []
    try:
        try:
            note = seed_cache(config)  # as open_updater: models.root may have changed
            notes += [note] if note else []
            seen = _cached_timestamp_version(config.cache)
            updater = _bundle_updater(config.cache, bundle)
        except (ValueError, KeyError) as exc:
            raise ModelRepoRejected(f"the trusted root is unusable ({type(exc).__name__})"
                                    ) from exc
        trusted = updater._trusted_set  # the reference time: see the module docstring
        if grace:
            trusted.reference_time = now - timedelta(days=grace)
        try:
            updater.refresh()
            updater.get_targetinfo(f"{config.channel}/{_PROBE}")
        except tuf_errors.ExpiredMetadataError as exc:
            raise _expired(_late(trusted, config.channel, now), grace, exc) from exc
        except tuf_errors.BadVersionNumberError as exc:
            raise ModelRepoRejected(f"the bundle is older than the metadata this "
                                    f"workstation has already seen ({exc})") from exc
        late = _late(trusted, config.channel, now)
        if any(role not in (Timestamp.type, Snapshot.type) for role, _ in late):
            raise _expired(late, grace, None)
        found = newest_target(updater, config.cache, config.channel, name, floor)
    except ModelUpdateError as exc:
        _log_failure(log, base, exc)
        raise
    except Exception as exc:
        err = as_update_error(exc)  # a disk error stays one; the rest is the bundle's fault
        if isinstance(err, (ModelRepoRejected, ModelRepoOffline)):
            err = ModelRepoRejected(f"the bundle was refused: {err}")
        _log_failure(log, base, err)
        raise err from exc
    warnings = tuple(notes) + tuple(
        f"the bundle's {role} metadata expired {_days(by)} ago; accepted within "
        f"{GRACE_KEY} ({grace})" for role, by in late)
    version = trusted.timestamp.version
    details = base | {"timestamp_version": version, "warnings": list(warnings)}
    made = base["bundle_made"]
    if found is None:
        if seen is not None and version <= seen:
            return ImportResult(active, cand, name, False, "the bundle holds nothing newer "
                                "than this workstation has seen", warnings, made)
        _log_import(log, details | {"name": None, "version": None, "candidate": False})
        return ImportResult(active, cand, name, False, "the bundle's metadata is newer, but "
                            f"it holds no newer package on the {config.channel} channel",
                            warnings, made)
    try:
        pkg = client.fetch_candidate(updater, found[0], found[1], models_root, base)
    except ModelRepoRejected as exc:  # already in the log
        raise ModelRepoRejected(f"the bundle was refused: {exc}") from exc
    _log_import(log, details | {"name": pkg.name, "version": pkg.version, "candidate": True})
    return ImportResult(active, pkg.version, pkg.name, True,
                        f"imported and verified {pkg.name} {pkg.version} from the bundle "
                        f"({config.channel} channel); it is a candidate, not active",
                        warnings, made)


def _known(models_root: Path) -> tuple[str | None, str | None, tuple[int, int, int] | None,
                                       str | None]:
    """(active version, model name, newest version present, newest candidate version),
    the floor a new package must be above, as ``models check`` reckons it."""
    active = active_package(models_root, builtin_model_dir())
    name = active.name if active else None
    cands = [p for p in candidates(models_root) if isinstance(p, ModelPackage)
             and (name is None or p.name == name)]
    known = [p for p in list_packages(models_root)
             if isinstance(p, ModelPackage) and (name is None or p.name == name)] + cands
    versions = [parse_version(p.version) for p in known]
    if active:
        versions.append(parse_version(active.version))
    newest = max(cands, key=lambda p: parse_version(p.version), default=None)
    return (active.version if active else None, name or (newest.name if newest else None),
            max(versions, default=None), newest.version if newest else None)


def _cached_timestamp_version(cache: Path) -> int | None:
    try:
        return int(Metadata[Timestamp].from_file(str(cache / "timestamp.json")).signed.version)
    except Exception:  # none yet, or unreadable: ngclient decides what it is worth
        return None


def _late(trusted: Any, channel: str, now: datetime) -> list[tuple[str, timedelta]]:
    """The loaded metadata that has expired by ``now``, and by how much."""
    late = []
    for role in (Root.type, Timestamp.type, Snapshot.type, Targets.type, channel):
        signed = trusted.get(role)
        if signed is not None and signed.is_expired(now):
            late.append((role, now - signed.expires))
    return late


def _days(by: timedelta) -> str:
    days = max(1, math.ceil(by.total_seconds() / 86400))
    return f"{days} day{'' if days == 1 else 's'}"


def _expired(late: list[tuple[str, timedelta]], grace: int,
             exc: Exception | None) -> ModelRepoRejected:
    hard = [(r, by) for r, by in late if r not in (Timestamp.type, Snapshot.type)]
    if hard:
        role, by = hard[0]
        return ModelRepoRejected(f"the bundle's {role} metadata expired {_days(by)} ago; "
                                 f"{GRACE_KEY} covers only timestamp and snapshot")
    if not late:
        return ModelRepoRejected(f"the bundle's metadata has expired ({exc})")
    role, by = max(late, key=lambda item: item[1])
    allowed = f"{GRACE_KEY} allows {grace}" if grace else f"no grace is set ({GRACE_KEY})"
    return ModelRepoRejected(f"the bundle's {role} metadata expired {_days(by)} ago; "
                             f"{allowed}")


def _log_import(log: Path, details: dict[str, Any]) -> None:
    update_log.append(log, "imported_bundle", details, actor=client._actor())


def _log_failure(log: Path, details: dict[str, Any], exc: Exception) -> None:
    # The import's own error is the one the user needs to see.
    with contextlib.suppress(update_log.UpdateLogError):
        update_log.append(log, "check_failed", details | {"reason": str(exc)},
                          actor=client._actor())
