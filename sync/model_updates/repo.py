"""The TUF side of a model check: python-tuf's ngclient against the repository.

The trusted root (models.root) is copied into the metadata cache only when
the cache has none; from then on ngclient updates root.json itself, by
signed root rotation, and never trusts a root it fetched on first use.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import urllib3
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.ngclient import Updater

from engine.ai.package import ModelPackageError, parse_version
from sync.model_updates.errors import ModelRepoOffline, ModelRepoRejected, ModelUpdateError

_PROBE = ".channel"  # a path under the channel that names no target


@dataclass(frozen=True)
class RepoConfig:
    url: str  # the repository root (holds metadata/ and targets/), ending in "/"
    trusted_root: Path  # root.json installed by IT
    channel: str  # stable | pilot
    cache: Path  # trusted metadata kept between checks


def as_update_error(exc: Exception) -> ModelUpdateError:
    """One line for a failure inside python-tuf or the network below it."""
    if isinstance(exc, ModelUpdateError):
        return exc
    if isinstance(exc, tuf_errors.ExpiredMetadataError):
        return ModelRepoRejected(f"the model repository's metadata has expired ({exc})")
    if isinstance(exc, tuf_errors.BadVersionNumberError):
        return ModelRepoRejected(f"the model repository went back to older metadata ({exc})")
    if isinstance(exc, tuf_errors.UnsignedMetadataError):
        return ModelRepoRejected(f"the model repository's metadata is not properly "
                                 f"signed ({exc})")
    if isinstance(exc, tuf_errors.LengthOrHashMismatchError):
        return ModelRepoRejected(f"a file from the model repository does not match its "
                                 f"signed length or hash ({exc})")
    if isinstance(exc, tuf_errors.DownloadHTTPError):
        return ModelRepoOffline(f"the model repository answered HTTP {exc.status_code}")
    if isinstance(exc, tuf_errors.DownloadLengthMismatchError):
        return ModelRepoRejected("a file from the model repository is longer than signed")
    if isinstance(exc, (tuf_errors.DownloadError, urllib3.exceptions.HTTPError)):
        return ModelRepoOffline("the model repository cannot be reached "
                                f"({type(exc).__name__})")
    if isinstance(exc, tuf_errors.RepositoryError):
        return ModelRepoRejected(f"the model repository failed verification "
                                 f"({type(exc).__name__}: {exc})")
    if isinstance(exc, OSError):
        return ModelUpdateError(f"cannot write the model metadata cache: "
                                f"{exc.strerror or type(exc).__name__}")
    raise exc


def open_updater(config: RepoConfig) -> Updater:
    """A refreshed ngclient Updater; ModelUpdateError subclasses on failure."""
    try:
        config.cache.mkdir(parents=True, exist_ok=True)
        if not (config.cache / "root.json").is_file():
            shutil.copyfile(config.trusted_root, config.cache / "root.json")
        updater = Updater(metadata_dir=str(config.cache),
                          metadata_base_url=config.url + "metadata/",
                          target_base_url=config.url + "targets/", bootstrap=None)
        updater.refresh()
    except (ValueError, KeyError) as exc:  # a root.json that is not TUF metadata
        raise ModelRepoRejected(f"the trusted root is unusable ({type(exc).__name__})"
                                ) from exc
    except Exception as exc:
        raise as_update_error(exc) from exc
    return updater


def newest_target(updater: Updater, cache: Path, channel: str, name: str | None,
                  floor: tuple[int, int, int] | None) -> tuple[TargetFile, list[str]] | None:
    """The channel's newest target for ``name`` (any name when None) newer than
    ``floor``, with the key IDs that signed the channel's metadata; None if none."""
    try:
        # Walks the delegation to the channel's role: ngclient verifies it and
        # keeps it in its cache, where its target list is read.
        updater.get_targetinfo(f"{channel}/{_PROBE}")
        role: Metadata[Targets] = Metadata.from_file(
            str(cache / f"{channel}.json"))
    except Exception as exc:
        raise as_update_error(exc) from exc
    best: tuple[tuple[int, int, int], str] | None = None
    for path, target in role.signed.targets.items():
        custom = target.custom or {}
        if not isinstance(custom.get("name"), str) or (name and custom["name"] != name):
            continue
        try:
            version = parse_version(str(custom.get("version")))
        except ModelPackageError:
            continue
        if (floor is None or version > floor) and (best is None or version > best[0]):
            best = (version, path)
    if best is None:
        return None
    try:
        info = updater.get_targetinfo(best[1])
    except Exception as exc:
        raise as_update_error(exc) from exc
    if info is None:
        return None
    return info, sorted(role.signatures)
