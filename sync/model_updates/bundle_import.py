"""Importing a model bundle (sync.model_updates.bundle) on a workstation without a network.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from engine.ai import update_log
from engine.ai.activation import candidates
from engine.ai.package import ModelPackage, active_package, list_packages, parse_version
from engine.paths import AppPaths
from engine.resources import builtin_model_dir
from engine.settings import MODEL_CHANNELS
from sync.model_updates import client
from sync.model_updates.bundle import (
    BASE_URL,
    BUNDLE_FILE,
    CHANNEL_PROBE,
    GRACE_KEY,
    KIND,
    MAX_BUNDLE_JSON,
    MAX_GRACE_DAYS,
    ImportResult,
    bundle_updater,
)
from sync.model_updates.errors import (
    ModelRepoOffline,
    ModelRepoRejected,
    ModelUpdateConfigError,
    ModelUpdateError,
)
from sync.model_updates.repo import (
    RepoConfig,
    as_update_error,
    newest_target,
    seed_cache,
)


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
    config = RepoConfig(url=BASE_URL, trusted_root=Path(root), channel=channel,
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
        if path.stat().st_size > MAX_BUNDLE_JSON:
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
            updater = bundle_updater(config.cache, bundle)
        except (ValueError, KeyError) as exc:
            raise ModelRepoRejected(f"the trusted root is unusable ({type(exc).__name__})"
                                    ) from exc
        trusted = updater._trusted_set  # the reference time: see the module docstring
        if grace:
            trusted.reference_time = now - timedelta(days=grace)
        try:
            updater.refresh()
            updater.get_targetinfo(f"{config.channel}/{CHANNEL_PROBE}")
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
