"""Which model is live: activate an accepted candidate or an installed
version, roll back, pin.

Candidates (packages fetched and verified but not live) wait in
``models_root/.candidates/<name>-<version>/``; each gets an acceptance report
in ``models_root/.acceptance/<name>-<version>.json`` (engine.ai.acceptance),
bound to the candidate by its manifest's SHA-256.  A candidate goes live only
with a report that accepted exactly that manifest.  Installed versions (in
``models_root/<name>-<version>/``) were live before and may be made live
again.  Every switch is the atomic pointer switch of engine.ai.package and is
recorded in the update log first (``activated``, ``rolled_back``), as are
``pinned`` and ``unpinned``.

A pin (``models_root/pin.json``) holds one version: while it is set nothing
else is activated, by hand or automatically, until ``unpin``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from engine.ai import update_log
from engine.ai.package import (
    LOCK,
    LOCK_TIMEOUT_S,
    ModelPackage,
    ModelPackageError,
    active_package,
    active_record,
    deactivate,
    install_package,
    list_packages,
    login_name,
    parse_version,
    read_package,
)
from engine.ai.package_manifest import MANIFEST, write_json_atomic
from engine.errors import MammoDeskError

log = logging.getLogger(__name__)

CANDIDATES = ".candidates"
REPORTS = ".acceptance"
PIN = "pin.json"


class ActivationError(MammoDeskError):
    """A model switch was refused; the live model is unchanged."""


def candidates_dir(models_root: Path) -> Path:
    return Path(models_root) / CANDIDATES


def candidates(models_root: Path) -> list[ModelPackage | tuple[Path, str]]:
    """Candidate packages (fetched, verified, not live), like list_packages."""
    return list_packages(candidates_dir(models_root))


def manifest_digest(pkg: ModelPackage) -> str:
    """SHA-256 of the package's manifest.json (which holds every file's hash)."""
    return hashlib.sha256((pkg.root / MANIFEST).read_bytes()).hexdigest()


def report_path(models_root: Path, name: str, version: str) -> Path:
    return Path(models_root) / REPORTS / f"{name}-{version}.json"


def store_report(models_root: Path, report: dict[str, Any]) -> Path:
    """Keep an acceptance report (atomically); returns its path."""
    cand = report["candidate"]
    path = report_path(models_root, cand["name"], cand["version"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(path, report)
    return path


def read_report(models_root: Path, name: str, version: str) -> dict[str, Any] | None:
    """The stored acceptance report of a version, None when there is none or it is unreadable."""
    path = report_path(models_root, name, version)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        log.warning("an acceptance report is unreadable (%s)", type(exc).__name__)
        return None
    return doc if isinstance(doc, dict) else None


def pinned(models_root: Path) -> dict[str, str] | None:
    """{"name", "version"} of the pinned model, None when nothing is pinned."""
    try:
        doc = json.loads((Path(models_root) / PIN).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        # An unreadable pin still holds: better no switch than an unwanted one.
        return {"name": "?", "version": "?"}
    ok = isinstance(doc, dict) and all(isinstance(doc.get(k), str) for k in ("name", "version"))
    return {"name": doc["name"], "version": doc["version"]} if ok else {"name": "?",
                                                                          "version": "?"}


def _find(models_root: Path, version: str, name: str | None
          ) -> tuple[ModelPackage, bool] | None:
    """The installed (False) or candidate (True) package of ``version``, same name first."""
    parse_version(version)
    found: list[tuple[ModelPackage, bool]] = []
    for pkgs, is_candidate in ((list_packages(models_root), False),
                               (candidates(models_root), True)):
        found += [(p, is_candidate) for p in pkgs
                  if isinstance(p, ModelPackage) and p.version == version]
    if name is not None and any(p.name == name for p, _ in found):
        found = [(p, c) for p, c in found if p.name == name]
    names = {p.name for p, _ in found}
    if len(names) > 1:
        raise ActivationError(f"version {version} exists for several models "
                              f"({', '.join(sorted(names))})")
    installed = [f for f in found if not f[1]]
    best = installed or found
    return best[0] if best else None


def _check_accepted(models_root: Path, pkg: ModelPackage) -> dict[str, Any]:
    report = read_report(models_root, pkg.name, pkg.version)
    if report is None:
        raise ActivationError(f"{pkg.describe()} has not been through acceptance yet; "
                              "run `models check`")
    if report.get("candidate", {}).get("manifest_sha256") != manifest_digest(pkg):
        raise ActivationError(f"the acceptance report of {pkg.describe()} is for other "
                              "package contents; run `models check` again")
    if report.get("accepted") is not True:
        raise ActivationError(f"{pkg.describe()} was refused by acceptance: "
                              f"{report.get('reason') or 'no reason recorded'}")
    return report


def _check_pin(models_root: Path, allowed: tuple[str, str] | None = None) -> None:
    """Refuse a switch while a pin holds another version (``allowed``: the one
    switched to; None: any pin refuses)."""
    pin = pinned(models_root)
    if pin is not None and (pin["name"], pin["version"]) != allowed:
        raise ActivationError(f"the model is pinned to {pin['name']} {pin['version']}; "
                              "`models unpin` first")


def _locked(models_root: Path) -> FileLock:
    Path(models_root).mkdir(parents=True, exist_ok=True)
    return FileLock(str(Path(models_root) / LOCK), timeout=LOCK_TIMEOUT_S)


def activate_version(models_root: Path, version: str, *, actor: str | None = None,
                     app_version: str | None = None) -> ModelPackage:
    """Make ``version`` live: an installed one, or an accepted candidate (which
    is then installed and leaves the candidates)."""
    models_root = Path(models_root)
    current = active_record(models_root)
    hit = _find(models_root, version, current[0] if current else None)
    if hit is None:
        raise ActivationError(f"no installed model or candidate has version {version}")
    pkg, is_candidate = hit
    _check_pin(models_root, (pkg.name, pkg.version))
    details: dict[str, Any] = {"source": "candidate" if is_candidate else "installed"}
    if is_candidate:
        details["acceptance"] = bool(_check_accepted(models_root, pkg).get("accepted"))
    try:
        live = install_package(pkg.root, models_root, app_version, allow_downgrade=True,
                               details=details, actor=actor)
    except ModelPackageError as exc:
        raise ActivationError(str(exc)) from exc
    if is_candidate:
        shutil.rmtree(pkg.root, ignore_errors=True)
    return live


def _previous(models_root: Path, name: str, version: str) -> str | None:
    """The version that was live before ``version`` was last activated (None: the built-in)."""
    for entry in reversed(update_log.entries(update_log.log_path(models_root))):
        d = entry.details
        if entry.event == "activated" and (d.get("name"), d.get("version")) == (name, version):
            prev = d.get("previous")
            return prev if isinstance(prev, str) else None
    return None


def rollback(models_root: Path, builtin: Path | None, *, actor: str | None = None
             ) -> ModelPackage:
    """Return to the model that was live before the current one; returns the live package."""
    models_root = Path(models_root)
    current = active_record(models_root)
    if current is None:
        raise ActivationError("the built-in model is live; there is nothing to roll back to")
    name, version = current
    _check_pin(models_root)
    prev = _previous(models_root, name, version)
    if prev is not None:
        folder = models_root / f"{name}-{prev}"
        try:
            read_package(folder)
        except ModelPackageError as exc:
            raise ActivationError(f"the previous model {name} {prev} is no longer intact: "
                                  f"{exc}") from exc
        try:
            return install_package(folder, models_root, allow_downgrade=True,
                                   event="rolled_back", actor=actor)
        except ModelPackageError as exc:
            raise ActivationError(str(exc)) from exc
    try:
        fallback = read_package(builtin) if builtin is not None else None
    except ModelPackageError as exc:
        raise ActivationError(f"the built-in model is not intact: {exc}") from exc
    if fallback is None:
        raise ActivationError("there is no earlier model to roll back to")
    try:
        with _locked(models_root):
            update_log.append(update_log.log_path(models_root), "rolled_back",
                              {"name": fallback.name, "version": fallback.version,
                               "previous": version, "builtin": True},
                              actor=_actor(actor))
            deactivate(models_root)
    except Timeout:
        raise ActivationError("another model change is still running; try again") from None
    return fallback


def pin(models_root: Path, version: str, builtin: Path | None, *,
        actor: str | None = None) -> ModelPackage:
    """Hold ``version`` (making it live first when it is not)."""
    models_root = Path(models_root)
    live = active_package(models_root, builtin)
    if live is None or live.version != version:
        live = activate_version(models_root, version, actor=actor)  # refused under another pin
    try:
        with _locked(models_root):
            update_log.append(update_log.log_path(models_root), "pinned",
                              {"name": live.name, "version": live.version},
                              actor=_actor(actor))
            write_json_atomic(models_root / PIN, {"name": live.name, "version": live.version})
    except Timeout:
        raise ActivationError("another model change is still running; try again") from None
    return live


def unpin(models_root: Path, *, actor: str | None = None) -> dict[str, str] | None:
    """Release the pin; returns what was pinned (None when nothing was)."""
    models_root = Path(models_root)
    was = pinned(models_root)
    if was is None:
        return None
    try:
        with _locked(models_root):
            update_log.append(update_log.log_path(models_root), "unpinned", dict(was),
                              actor=_actor(actor))
            (models_root / PIN).unlink(missing_ok=True)
    except Timeout:
        raise ActivationError("another model change is still running; try again") from None
    return was


def history(models_root: Path) -> list[dict[str, Any]]:
    """The model switches and pins, oldest first, from the update log."""
    keep = ("activated", "rolled_back", "pinned", "unpinned", "accepted", "refused")
    return [{"at": e.at, "event": e.event, **e.details}
            for e in update_log.entries(update_log.log_path(models_root)) if e.event in keep]


def _actor(actor: str | None) -> str:
    return login_name() if actor is None else actor
