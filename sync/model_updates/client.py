"""``check``: ask the TUF model repository for a newer model package.

The trusted root.json that IT installed (models.root) is copied into a
metadata cache in MammoDesk's cache folder the first time; after that
python-tuf's ngclient keeps the cache up to date and refuses expired, badly
signed or rolled-back metadata.  The newest target of the configured channel
(models.channel) for the active model's name, newer than the active and every
installed version, is downloaded (ngclient checks its length and hashes),
unpacked in a staging folder, verified as a package (engine.ai.package), and
kept as a candidate in ``models_root/.candidates/``.  It is not activated.

Each step is recorded in the models folder's update log: ``fetched``,
``verified``, or ``check_failed`` with the reason.  On any failure the
staging folder is removed and the active model and installed packages are
left as they were.
"""

from __future__ import annotations

import contextlib
import getpass
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from filelock import FileLock, Timeout
from tuf.api.metadata import TargetFile
from tuf.ngclient import Updater

from engine.ai import update_log
from engine.ai.activation import candidates
from engine.ai.package import (
    ModelPackage,
    ModelPackageError,
    active_package,
    list_packages,
    parse_version,
    read_package,
)
from engine.paths import AppPaths
from engine.resources import builtin_model_dir
from engine.settings import MODEL_CHANNELS
from sync.model_updates import staging
from sync.model_updates.errors import (
    ModelRepoRejected,
    ModelUpdateConfigError,
    ModelUpdateError,
)
from sync.model_updates.repo import RepoConfig, as_update_error, newest_target, open_updater

LOCK_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class CheckResult:
    active: str | None  # version of the active model, None when there is none
    candidate: str | None  # version fetched now or earlier and not yet activated
    name: str | None  # the model name the candidate is for
    fetched: bool  # whether this check downloaded the candidate
    reason: str  # one line for the user


def model_config(paths: AppPaths, settings: dict[str, str]) -> RepoConfig:
    """The checked model repository settings, or ModelUpdateConfigError naming the key."""
    from engine.urls import url_problem

    def get(key: str) -> str:
        return str(settings.get(key, "") or "").strip()

    url = get("models.url")
    if not url:
        raise ModelUpdateConfigError("no model repository is configured: set models.url")
    problem = url_problem(url, "models.url", get("cloud.dev_plain_http").lower() == "yes")
    if problem:
        raise ModelUpdateConfigError(problem)
    root = get("models.root")
    if not root:
        raise ModelUpdateConfigError("the repository's trusted root is not installed: "
                                     "set models.root")
    if not Path(root).is_file():
        raise ModelUpdateConfigError(f"no trusted root file at {root} (models.root)")
    channel = get("models.channel") or "stable"
    if channel not in MODEL_CHANNELS:
        raise ModelUpdateConfigError(f"models.channel must be one of {', '.join(MODEL_CHANNELS)}")
    return RepoConfig(url=url.rstrip("/") + "/", trusted_root=Path(root), channel=channel,
                      cache=paths.cache / "model-updates",
                      ca_bundle=get("cloud.ca_bundle"), proxy=get("cloud.proxy"))


def public_url(url: str) -> str:
    """The URL without user name, password, query or fragment (for the log)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no name for this user id (a container, say)
        return ""


def check(paths: AppPaths, settings: dict[str, str]) -> CheckResult:
    """Fetch and verify a newer package from the repository, keeping it as a candidate."""
    config = model_config(paths, settings)
    models_root = paths.models
    config.cache.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(config.cache / ".lock"), timeout=LOCK_TIMEOUT_S):
            return _check_locked(config, models_root)
    except Timeout:
        raise ModelUpdateError("another model check is still running; try again when it "
                               "has finished") from None


def _check_locked(config: RepoConfig, models_root: Path) -> CheckResult:
    log = update_log.log_path(models_root)
    active = active_package(models_root, builtin_model_dir())
    name = active.name if active else None
    active_v = active.version if active else None
    known = [p for p in (*list_packages(models_root), *candidates(models_root))
             if isinstance(p, ModelPackage) and (name is None or p.name == name)]
    versions = [parse_version(p.version) for p in known]
    if active_v:  # the built-in model is active without being installed
        versions.append(parse_version(active_v))
    floor = max(versions, default=None)
    newest_candidate = max((p for p in candidates(models_root)
                            if isinstance(p, ModelPackage) and p.name == (name or p.name)),
                           key=lambda p: parse_version(p.version), default=None)
    cand_v = newest_candidate.version if newest_candidate else None
    base: dict[str, Any] = {"url": public_url(config.url), "channel": config.channel}
    resets: list[str] = []
    try:
        updater = open_updater(config, on_reset=resets.append)
        if resets:
            base["trusted_root_reset"] = resets[0]
        found = newest_target(updater, config.cache, config.channel, name, floor)
    except ModelUpdateError as exc:
        _log_failure(log, base, exc)
        raise
    note = f"{resets[0]}; " if resets else ""
    if found is None:
        return CheckResult(active_v, cand_v, name or (newest_candidate.name
                           if newest_candidate else None), False,
                           f"{note}up to date on the {config.channel} channel")
    info, keyids = found
    pkg = fetch_candidate(updater, info, keyids, models_root, base)
    version, pkg_name = pkg.version, pkg.name
    return CheckResult(active_v, version, pkg_name, True,
                       f"{note}fetched and verified {pkg_name} {version} from the "
                       f"{config.channel} channel; it is a candidate, not active")


def fetch_candidate(updater: Updater, info: TargetFile, keyids: list[str],
                    models_root: Path, base: dict[str, Any]) -> ModelPackage:
    """Download the signed target ``info`` (ngclient checks length and hashes),
    unpack it in staging, verify it as a package and keep it as a candidate.

    ``base`` goes into every log entry (where it came from).  Logs ``fetched``
    and ``verified``, or ``check_failed``; on failure nothing is left staged.
    """
    log = update_log.log_path(models_root)
    pkg_name, version = info.custom["name"], info.custom["version"]
    details: dict[str, Any] = base | {"target": info.path, "name": pkg_name,
                                      "version": version, "length": info.length,
                                      "sha256": info.hashes.get("sha256"), "keyids": keyids}
    work: Path | None = None
    try:
        models_root.mkdir(parents=True, exist_ok=True)
        staging.remove_leftovers(models_root)
        work = staging.new_staging(models_root)
        tar = work / "package.tar"
        try:
            updater.download_target(info, str(tar))
        except Exception as exc:
            raise as_update_error(exc) from exc
        update_log.append(log, "fetched", details, actor=_actor())
        unpacked = staging.unpack(tar, work / "unpacked", f"{pkg_name}-{version}")
        try:
            pkg = read_package(unpacked)
        except ModelPackageError as exc:
            raise ModelRepoRejected(f"the fetched package failed verification: {exc}") from exc
        if (pkg.name, pkg.version) != (pkg_name, version):
            raise ModelRepoRejected(f"the fetched package is {pkg.describe()}, not the "
                                    f"signed {pkg_name} {version}")
        placed = staging.place_candidate(unpacked, models_root)
        update_log.append(log, "verified", details | {"candidate": True}, actor=_actor())
    except ModelUpdateError as exc:
        _log_failure(log, details, exc)
        raise
    except OSError as exc:
        err = ModelUpdateError(f"cannot store the fetched package: "
                               f"{exc.strerror or type(exc).__name__}")
        _log_failure(log, details, err)
        raise err from exc
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return ModelPackage(placed, pkg.manifest)


def _log_failure(log: Path, details: dict[str, Any], exc: Exception) -> None:
    # The check's own error is the one the user needs to see, even when the
    # log cannot take the entry.
    with contextlib.suppress(update_log.UpdateLogError):
        update_log.append(log, "check_failed", details | {"reason": str(exc)},
                          actor=_actor())
