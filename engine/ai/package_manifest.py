"""The model package manifest: its schema, version rules and file hashes.

A model package is a folder holding ``manifest.json`` plus every file the
manifest lists with its SHA-256 (the Keras model, optionally an ONNX export,
``MODEL_CARD.md``, evaluation files, optionally ``domain_check.json``: what
says when an image is outside the model's training, named by
``entry.domain_check``).  Nothing else may be in the folder, no
listed path may leave it, and no file may be a symbolic link.  This module
knows the manifest alone; installing and activating packages lives in
``engine.ai.package``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from engine.atomic import write_atomically
from engine.errors import MammoDeskError
from engine.version import app_version

FORMAT = "mammodesk-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODEL_CARD = "MODEL_CARD.md"
CHUNK = 1024 * 1024
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

_NAME = re.compile(r"[a-z0-9-]+")
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_APP_VERSION = re.compile(r"([0-9]+)\.([0-9]+)(?:\.([0-9]+))?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DICT_KEYS = ("input", "preprocessing", "outputs", "operating_points", "training_data", "metrics")


class ModelPackageError(MammoDeskError):
    """A model package is malformed, tampered with, or not for this MammoDesk."""


def refused(reason: str) -> ModelPackageError:
    return ModelPackageError(f"model package refused: {reason}")


def parse_version(s: str) -> tuple[int, int, int]:
    """``"1.2.3"`` -> ``(1, 2, 3)``; anything but MAJOR.MINOR.PATCH is refused."""
    match = _SEMVER.fullmatch(s) if isinstance(s, str) else None
    if match is None:
        raise refused(f"{s!r} is not a version of the form MAJOR.MINOR.PATCH")
    major, minor, patch = (int(g) for g in match.groups())
    return major, minor, patch


def _app_version_tuple(version: str) -> tuple[int, int, int]:
    """Lenient parse of an application version ("0.2", "0.2.0rc1", "1.0.0+local")."""
    match = _APP_VERSION.match(version)
    if match is None:
        raise ModelPackageError(f"the application version {version!r} cannot be read")
    return int(match[1]), int(match[2]), int(match[3] or 0)


def check_rel_path(rel: object) -> str:
    """A listed path must be relative, POSIX-style, and stay inside the package folder."""
    if not isinstance(rel, str) or not rel:
        raise refused(f"file entry {rel!r} is not a relative path")
    parts = PurePosixPath(rel).parts
    if (
        rel.startswith("/")
        or "\\" in rel
        or ":" in rel
        or "\x00" in rel
        or any(p in ("", ".", "..") for p in rel.split("/"))
    ):
        raise refused(f"file path {rel!r} escapes the package folder or is not plain")
    if parts == (MANIFEST,):
        raise refused(f"{MANIFEST} must not list itself")
    return rel


def _require(manifest: dict[str, Any], key: str, kind: type, what: str) -> Any:
    value = manifest.get(key)
    if not isinstance(value, kind) or isinstance(value, bool) or (kind is str and not value):
        raise refused(f"manifest key {key!r} is missing or not {what}")
    return value


def check_format(manifest: object) -> dict[str, Any]:
    """Format name and version, checked first so a newer format gets the update message."""
    if not isinstance(manifest, dict):
        raise refused(f"{MANIFEST} is not a JSON object")
    if manifest.get("format") != FORMAT:
        raise refused(f"{MANIFEST} is not a MammoDesk model manifest (format != {FORMAT!r})")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise refused(f"format_version {version!r} is not a positive integer")
    if version > FORMAT_VERSION:
        raise refused(
            f"model package format {version} is newer than this MammoDesk supports "
            f"({FORMAT_VERSION}); update MammoDesk"
        )
    return manifest


def validate_manifest(manifest: object) -> dict[str, Any]:
    """Check every required key's type and value (not the files on disk)."""
    m = check_format(manifest)
    if not _NAME.fullmatch(_require(m, "name", str, "a string")):
        raise refused(f"name {m['name']!r} may only hold a-z, 0-9 and '-'")
    parse_version(_require(m, "version", str, "a version string"))
    parse_version(_require(m, "min_app_version", str, "a version string"))
    try:
        datetime.fromisoformat(_require(m, "created", str, "an ISO 8601 time"))
    except ValueError:
        raise refused(f"created {m['created']!r} is not an ISO 8601 time") from None
    _require(m, "framework", dict, "an object")
    files = _require(m, "files", dict, "an object")
    for rel, digest in files.items():
        check_rel_path(rel)
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
            raise refused(f"the sha256 of {rel} is not 64 lowercase hex digits")
    entry = _require(m, "entry", dict, "an object")
    keras = entry.get("keras")
    if not isinstance(keras, str) or keras not in files:
        raise refused("entry.keras does not name a file listed in the manifest")
    onnx = entry.get("onnx")
    if onnx is not None and (not isinstance(onnx, str) or onnx not in files):
        raise refused("entry.onnx is neither null nor a file listed in the manifest")
    check = entry.get("domain_check")
    if check is not None and (not isinstance(check, str) or check not in files):
        raise refused("entry.domain_check is neither absent nor a file listed in the manifest")
    if MODEL_CARD not in files:
        raise refused(f"{MODEL_CARD} is not listed in the manifest")
    for key in _DICT_KEYS:
        _require(m, key, dict, "an object")
    for point, threshold in m["operating_points"].items():
        if (
            not isinstance(threshold, int | float)
            or isinstance(threshold, bool)
            or not 0.0 <= threshold <= 1.0
        ):
            raise refused(f"operating point {point!r} is not a threshold between 0 and 1")
    _require(m, "notice", str, "a non-empty string")
    return m


def check_app_version(manifest: dict[str, Any], running: str | None = None) -> None:
    """Refuse a package that needs a newer MammoDesk than the one running."""
    running = running or app_version()
    needed = manifest["min_app_version"]
    if _app_version_tuple(running) < parse_version(needed):
        raise refused(f"it needs MammoDesk {needed} or newer (this is {running}); update MammoDesk")


def sha256_file(path: Path) -> str:
    """SHA-256 hex of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def scan_files(root: Path) -> dict[str, Path]:
    """Every regular file under root (relative POSIX path -> Path), manifest excluded.

    Symbolic links and special files anywhere in the folder are refused.
    """
    found: dict[str, Path] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for name in [*dirnames, *filenames]:
            path = here / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                raise refused(f"{rel} is a symbolic link")
            if name in filenames:
                if not path.is_file():
                    raise refused(f"{rel} is not a regular file")
                if rel != MANIFEST:
                    found[rel] = path
    return found


def verify_files(root: Path, manifest: dict[str, Any]) -> None:
    """Listed files present, nothing unlisted, every hash matching."""
    on_disk = scan_files(root)
    listed: dict[str, str] = manifest["files"]
    for rel in sorted(listed):
        if rel not in on_disk:
            raise refused(f"{rel} is listed in the manifest but missing")
    extra = sorted(set(on_disk) - set(listed))
    if extra:
        raise refused(f"{extra[0]} is in the package folder but not listed in the manifest")
    for rel in sorted(listed):
        if sha256_file(on_disk[rel]) != listed[rel]:
            raise refused(f"{rel} does not match its sha256 in the manifest")


def load_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if path.is_symlink() or not path.is_file():
        raise refused(f"{MANIFEST} is missing or not a regular file")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise refused(f"{MANIFEST} is too large")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise refused(f"{MANIFEST} is not valid JSON ({exc.__class__.__name__})") from None


def write_json_atomic(path: Path, data: Any) -> None:
    """Replace ``path`` with ``data`` as JSON, all or nothing (engine/atomic.py)."""
    # A manifest is for everyone to read, whatever the umask.
    write_atomically(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o644)


def fsync_tree(root: Path) -> None:
    """Flush copied files and their folders to disk before the rename makes them visible."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            with open(Path(dirpath) / name, "rb") as f:
                os.fsync(f.fileno())
        fsync_dir(Path(dirpath))


def fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_manifest(root: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Hash every file under root into ``files``, check the result, write manifest.json.

    ``format`` and ``format_version`` are filled in when absent.  The caller's
    dict is not modified; the written manifest is returned.
    """
    root = Path(root)
    m = dict(manifest)
    m.setdefault("format", FORMAT)
    m.setdefault("format_version", FORMAT_VERSION)
    m["files"] = {rel: sha256_file(p) for rel, p in sorted(scan_files(root).items())}
    validate_manifest(m)
    write_json_atomic(root / MANIFEST, m)
    return m
