"""Model packages: read and verify, install, activate, find the active one.

One format for every model: the demo model shipped in resources/, models
trained on this workstation, and signed updates that arrive later.  A package
is verified in full (format, versions, every file's SHA-256, no extra or
escaping files) each time it is read.

Installed packages live in ``models_root/<name>-<version>/``; the active one
is named by ``models_root/active.json``.  Installation copies into a hidden
``.installing-*`` folder, verifies the copy, then renames it into place, so a
crash never leaves a half package where one is looked for; leftovers are
removed by the next install.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from engine.ai import update_log
from engine.ai.package_manifest import (
    MODEL_CARD,
    ModelPackageError,
    check_app_version,
    fsync_dir,
    fsync_tree,
    load_manifest,
    parse_version,
    refused,
    validate_manifest,
    verify_files,
    write_json_atomic,
    write_manifest,
)

__all__ = [
    "ModelPackage",
    "ModelPackageError",
    "activate",
    "active_package",
    "active_record",
    "deactivate",
    "install_package",
    "list_packages",
    "parse_version",
    "read_package",
    "write_manifest",
]

log = logging.getLogger(__name__)

ACTIVE = "active.json"
TEMP_PREFIX = ".installing-"
LOCK = ".lock"
LOCK_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ModelPackage:
    root: Path
    manifest: dict

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def keras_path(self) -> Path:
        return self.root / self.manifest["entry"]["keras"]

    @property
    def onnx_path(self) -> Path | None:
        onnx = self.manifest["entry"].get("onnx")
        return self.root / onnx if onnx else None

    @property
    def domain_check_path(self) -> Path | None:
        """The domain check (engine/ai/domain), None for packages without one."""
        rel = self.manifest["entry"].get("domain_check")
        return self.root / rel if rel else None

    @property
    def card_path(self) -> Path:
        return self.root / MODEL_CARD

    def describe(self) -> str:
        return f"{self.name} {self.version}"


def read_package(root: Path, app_version: str | None = None) -> ModelPackage:
    """Read and fully verify the package in ``root``; ModelPackageError says which check failed."""
    root = Path(root)
    if not root.is_dir():
        raise refused(f"{root} is not a folder")
    manifest = validate_manifest(load_manifest(root))
    check_app_version(manifest, app_version)
    verify_files(root, manifest)
    return ModelPackage(root, manifest)


def _folder_name(pkg: ModelPackage) -> str:
    return f"{pkg.name}-{pkg.version}"


def activate(models_root: Path, pkg: ModelPackage) -> None:
    """Make ``pkg`` (installed directly under models_root) the active model."""
    models_root = Path(models_root)
    if pkg.root.resolve().parent != models_root.resolve():
        raise ModelPackageError(f"{pkg.describe()} is not installed in the models folder")
    record = {"name": pkg.name, "version": pkg.version, "path": pkg.root.name}
    write_json_atomic(models_root / ACTIVE, record)
    log.info("active model is now %s", pkg.describe())


def _read_active(models_root: Path) -> dict[str, str] | None:
    """active.json as a checked dict, or None when absent or corrupt (with a warning)."""
    path = models_root / ACTIVE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        ok = isinstance(record, dict) and all(
            isinstance(record.get(k), str) for k in ("name", "version", "path")
        )
        folder = record["path"] if ok else ""
        if not ok or folder in ("", ".", "..") or "/" in folder or "\\" in folder:
            raise ValueError("unexpected content")
        parse_version(record["version"])
    except (OSError, UnicodeDecodeError, ValueError, ModelPackageError) as exc:
        log.warning("ignoring unreadable %s in the models folder (%s)", ACTIVE, exc)
        return None
    return record


def _read_installed(
    models_root: Path, record: dict[str, str], app_version: str | None
) -> ModelPackage:
    pkg = read_package(models_root / record["path"], app_version)
    if (pkg.name, pkg.version) != (record["name"], record["version"]):
        raise refused(
            f"{record['path']} holds {pkg.describe()}, not the recorded "
            f"{record['name']} {record['version']}"
        )
    return pkg


def active_package(
    models_root: Path, builtin: Path | None, app_version: str | None = None
) -> ModelPackage | None:
    """The active installed package if it verifies, else the builtin one if valid, else None."""
    record = _read_active(Path(models_root))
    if record is not None:
        try:
            return _read_installed(Path(models_root), record, app_version)
        except ModelPackageError as exc:
            log.warning(
                "active model %s %s failed verification, falling back: %s",
                record["name"],
                record["version"],
                exc,
            )
    if builtin is None:
        return None
    try:
        return read_package(Path(builtin), app_version)
    except ModelPackageError as exc:
        log.warning("built-in model failed verification: %s", exc)
        return None


def list_packages(models_root: Path) -> list[ModelPackage | tuple[Path, str]]:
    """Installed packages by folder name: valid ones as ModelPackage, others as (path, reason)."""
    models_root = Path(models_root)
    if not models_root.is_dir():
        return []
    found: list[ModelPackage | tuple[Path, str]] = []
    for folder in sorted(models_root.iterdir()):
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        try:
            found.append(read_package(folder))
        except ModelPackageError as exc:
            found.append((folder, str(exc)))
    return found


def _remove_leftovers(models_root: Path) -> None:
    for leftover in models_root.glob(f"{TEMP_PREFIX}*"):
        log.info("removing an interrupted model installation")
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def _check_not_older(
    new: ModelPackage, active: dict[str, str] | None, allow_downgrade: bool
) -> None:
    """Refuse going back to an older version of the active model.

    The same version as the active one passes here: it is either a no-op
    (already installed and intact) or repairs a damaged installed copy.
    """
    if active is None or active["name"] != new.name or allow_downgrade:
        return
    if parse_version(new.version) < parse_version(active["version"]):
        raise refused(f"version {new.version} is not newer than the active {active['version']}")


def _place(models_root: Path, src: ModelPackage, app_version: str | None) -> ModelPackage:
    """Copy src to a hidden folder, verify the copy, rename it to <name>-<version>."""
    target = models_root / _folder_name(src)
    tmp = models_root / f"{TEMP_PREFIX}{_folder_name(src)}-{uuid.uuid4().hex[:8]}"
    try:
        shutil.copytree(src.root, tmp, symlinks=True)
        copied = read_package(tmp, app_version)
        if copied.manifest != src.manifest:
            raise refused("the package changed while it was being installed")
        fsync_tree(tmp)
        if target.exists() or target.is_symlink():
            # Same name and version present but damaged: move it aside first.
            old = models_root / f"{TEMP_PREFIX}{uuid.uuid4().hex[:8]}-replaced"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
        fsync_dir(models_root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ModelPackage(target, src.manifest)


def _existing_copy(
    models_root: Path, src: ModelPackage, app_version: str | None
) -> ModelPackage | None:
    """The already-installed copy of src's name and version, if it verifies."""
    target = models_root / _folder_name(src)
    if not target.is_dir() or target.is_symlink():
        return None
    try:
        installed = read_package(target, app_version)
    except ModelPackageError as exc:
        log.warning("installed copy of %s is damaged and will be replaced: %s", src.describe(), exc)
        return None
    if installed.manifest != src.manifest:
        raise refused(
            f"{src.describe()} is already installed with different contents; "
            "give the new package a new version"
        )
    return installed


def login_name() -> str:
    """Who asked for the change: this process's login name."""
    try:
        return getpass.getuser()
    except Exception:  # no name for this user id (a container, say)
        return ""


def active_record(models_root: Path) -> tuple[str, str] | None:
    """(name, version) that active.json names, None when there is none (or it is unreadable).

    Cheap (no verification): for noticing that another process switched models."""
    record = _read_active(Path(models_root))
    return None if record is None else (record["name"], record["version"])


def deactivate(models_root: Path) -> None:
    """Remove active.json, so the built-in model is the active one again."""
    path = Path(models_root) / ACTIVE
    path.unlink(missing_ok=True)
    fsync_dir(Path(models_root))
    log.info("active model is now the built-in one")


def install_package(
    src: Path, models_root: Path, app_version: str | None = None, allow_downgrade: bool = False,
    *, event: str = "activated", details: dict | None = None, actor: str | None = None,
) -> ModelPackage:
    """Verify src, copy it into models_root atomically, verify the copy, activate it,
    recording the activation in the models folder's update log (engine.ai.update_log).

    A version lower than the active one of the same name is refused unless
    ``allow_downgrade``.  Re-installing the active version is a no-op when the
    installed copy is intact, repairs it when damaged, and is refused when the
    new package differs from it.  ``event`` (activated or rolled_back),
    ``details`` and ``actor`` (default: the login name) go into the log entry.
    """
    new = read_package(Path(src), app_version)
    models_root = Path(models_root)
    models_root.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(models_root / LOCK), timeout=LOCK_TIMEOUT_S):
            _remove_leftovers(models_root)
            active = _read_active(models_root)
            _check_not_older(new, active, allow_downgrade)
            existing = _existing_copy(models_root, new, app_version)
            if (
                existing is not None
                and active is not None
                and active["path"] == existing.root.name
                and (active["name"], active["version"]) == (new.name, new.version)
            ):
                return existing
            installed = existing or _place(models_root, new, app_version)
            # Recorded before the pointer switch: a damaged log stops the switch.
            update_log.append(update_log.log_path(models_root), event,
                              {"name": installed.name, "version": installed.version,
                               "previous": active["version"] if active else None}
                              | (details or {}),
                              actor=login_name() if actor is None else actor)
            activate(models_root, installed)
            return installed
    except Timeout:
        raise ModelPackageError(
            "another model installation is still running; try again when it has finished"
        ) from None
