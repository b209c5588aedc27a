"""The TUF side of a model check: python-tuf's ngclient against the repository.

The trusted root (models.root) seeds the metadata cache; from then on
ngclient updates root.json itself, by signed root rotation, and never trusts
a root it fetched on first use.  The SHA-256 of the file the cache was seeded
from is kept beside it (``trusted-root.sha256``): when IT installs a root
file with other bytes, the cache is emptied and seeded from the new file, so
a replaced root is never shadowed by the old repository's cached trust.

Downloads go through ``VerifiedFetcher``: TLS verified against the system
trust store plus ``cloud.ca_bundle`` (the same context as sync/http.py),
through ``cloud.proxy`` when set and never a proxy from the environment, no
redirects, and a connect and between-bytes timeout.  ngclient caps every
metadata file; targets are counted and hashed as they stream (ModelUpdater).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from tuf.api import exceptions as tuf_errors
from tuf.api.metadata import Metadata, TargetFile, Targets
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from engine.ai.package import ModelPackageError, parse_version
from sync.model_updates.errors import (
    ModelRepoOffline,
    ModelRepoRejected,
    ModelRepoTlsError,
    ModelUpdateConfigError,
    ModelUpdateError,
)

log = logging.getLogger(__name__)

_PROBE = ".channel"  # a path under the channel that names no target
ROOT_DIGEST = "trusted-root.sha256"  # in the cache: the seed file's SHA-256
_KEPT = frozenset({".lock"})  # the check's lock file survives a reset


@dataclass(frozen=True)
class RepoConfig:
    url: str  # the repository root (holds metadata/ and targets/), ending in "/"
    trusted_root: Path  # root.json installed by IT
    channel: str  # stable | pilot
    cache: Path  # trusted metadata kept between checks
    ca_bundle: str = ""  # extra CA file (cloud.ca_bundle), besides the system store
    proxy: str = ""  # http(s)://HOST:PORT (cloud.proxy); empty: direct
    timeout_s: float = 30.0  # to connect, and between two bytes received


class _FetchFailed(tuf_errors.DownloadError):
    """A download failed in the network; the message is the user's line."""


class _TlsFailed(tuf_errors.DownloadError):
    """The server's certificate did not verify; the message is the user's line."""


def _host(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)


def tls_context(ca_bundle: str) -> ssl.SSLContext:
    """sync/http.py's verifying context: system trust store plus ``ca_bundle``."""
    from sync.config import CloudConfig
    from sync.errors import ConfigError
    from sync.http import ssl_context

    try:
        return ssl_context(CloudConfig(url="", ca_bundle=ca_bundle))
    except ConfigError as exc:
        raise ModelUpdateConfigError(str(exc)) from None


def _checked_proxy(proxy: str) -> str:
    """sync.config's rule for cloud.proxy, as a model update setting error."""
    from sync.config import proxy_problem

    problem = proxy_problem(proxy)
    if problem:
        raise ModelUpdateConfigError(problem)
    return proxy


class VerifiedFetcher(FetcherInterface):
    """ngclient's downloads through one verifying TLS context and the configured
    proxy only; redirects are refused, failures become one-line DownloadErrors."""

    def __init__(self, context: ssl.SSLContext, proxy: str = "",
                 timeout_s: float = 30.0, chunk_size: int = 256 * 1024) -> None:
        from sync.http import USER_AGENT

        self.chunk_size = chunk_size
        self._timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
        common: dict[str, Any] = {
            "headers": {"User-Agent": USER_AGENT}, "cert_reqs": "CERT_REQUIRED",
            "ssl_context": context, "retries": urllib3.Retry(total=1, redirect=False)}
        self._pool: urllib3.PoolManager
        if proxy:
            https_proxy = _checked_proxy(proxy).lower().startswith("https://")
            self._pool = urllib3.ProxyManager(
                proxy, proxy_ssl_context=context if https_proxy else None, **common)
        else:
            self._pool = urllib3.PoolManager(**common)

    def _fetch(self, url: str) -> Iterator[bytes]:
        host = _host(url)
        try:
            response = self._pool.request("GET", url, preload_content=False,
                                          timeout=self._timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise _network_error(exc, host) from exc
        if response.status >= 300:
            response.drain_conn()
            response.release_conn()
            what = "redirect, which is not followed" if response.status < 400 else "error"
            raise tuf_errors.DownloadHTTPError(f"HTTP {response.status} ({what})",
                                               response.status)
        return self._chunks(response, host)

    def _chunks(self, response: urllib3.BaseHTTPResponse, host: str) -> Iterator[bytes]:
        try:
            yield from response.stream(self.chunk_size)
        except urllib3.exceptions.HTTPError as exc:
            raise _network_error(exc, host, started=True) from exc
        finally:
            response.release_conn()


def _network_error(exc: BaseException, host: str, started: bool = False
                   ) -> tuf_errors.DownloadError:
    from sync.transport import certificate_problem

    reason = getattr(exc, "reason", None) or exc
    problem = certificate_problem(exc)
    if problem:
        return _TlsFailed(f"the certificate of {host} is not trusted ({problem.rstrip('.')}); "
                          "check models.url and cloud.ca_bundle")
    if isinstance(reason, urllib3.exceptions.NewConnectionError):  # before: a subclass
        return _FetchFailed(f"the model repository at {host} cannot be reached "
                            "(no connection)")
    if isinstance(reason, urllib3.exceptions.ConnectTimeoutError):
        return _FetchFailed(f"the model repository at {host} cannot be reached "
                            "(connection timed out)")
    if isinstance(reason, urllib3.exceptions.TimeoutError):
        return tuf_errors.SlowRetrievalError(f"{host} stopped answering (timed out)")
    if isinstance(reason, urllib3.exceptions.ProxyError):
        return _FetchFailed(f"the proxy refused or dropped the connection to {host} "
                            "(cloud.proxy)")
    if started:
        return _FetchFailed(f"the connection to {host} broke off during a download")
    return _FetchFailed(f"the model repository at {host} cannot be reached "
                        f"({type(reason).__name__})")


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
        return ModelRepoOffline(f"the model repository answered {exc}")
    if isinstance(exc, tuf_errors.DownloadLengthMismatchError):
        return ModelRepoRejected("a file from the model repository is longer than its "
                                 "signed length or the limit for metadata")
    if isinstance(exc, _TlsFailed):
        return ModelRepoTlsError(str(exc))
    if isinstance(exc, (_FetchFailed, tuf_errors.SlowRetrievalError)):
        return ModelRepoOffline(str(exc))
    if isinstance(exc, (tuf_errors.DownloadError, urllib3.exceptions.HTTPError)):
        return ModelRepoOffline("the model repository cannot be reached "
                                f"({type(exc).__name__})")
    if isinstance(exc, tuf_errors.RepositoryError):
        return ModelRepoRejected(f"the model repository failed verification "
                                 f"({type(exc).__name__}: {exc})")
    if isinstance(exc, OSError):
        return _disk_error(exc)
    raise exc


def _disk_error(exc: OSError) -> ModelUpdateError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return ModelUpdateError(f"no space left on the disk for the model update "
                                f"({exc.strerror or 'disk full'})")
    return ModelUpdateError(f"cannot write the model update to disk: "
                            f"{exc.strerror or type(exc).__name__}")


def seed_cache(config: RepoConfig) -> str | None:
    """Seed the cache from models.root when it is empty or was seeded from a
    different file (then everything cached is removed first); returns a line
    saying so when a seeded cache was reset, else None."""
    data = config.trusted_root.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    cache, mark = config.cache, config.cache / ROOT_DIGEST
    cache.mkdir(parents=True, exist_ok=True)
    seeded = os.path.lexists(cache / "root.json")
    if seeded and mark.is_file() and mark.read_text(encoding="ascii").strip() == digest:
        return None
    note = None
    if seeded:
        for entry in cache.iterdir():
            if entry.name in _KEPT:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        note = (f"the trusted root (models.root) changed: the model metadata cache was "
                f"reset and seeded from the new root (sha256 {digest[:12]})")
        log.warning("%s", note)
    # root.json before the digest: a crash between the two resets once more.
    tmp = cache / ".root.json.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, cache / "root.json")
    tmp = cache / f".{ROOT_DIGEST}.tmp"
    tmp.write_text(digest + "\n", encoding="ascii")
    os.replace(tmp, mark)
    return note


class ModelUpdater(Updater):
    """ngclient's Updater, with targets downloaded straight into their destination.

    python-tuf's own download_target streams into a temporary file in the
    system's temporary folder, reads it again to check its hashes and then
    copies it: three passes over a package of tens of megabytes, and a full
    /tmp rather than the models disk stops it.  Here the bytes are written
    once, into the staging file, counted and hashed as they arrive; more than
    the signed length stops the download, and a length or any signed hash
    that does not match raises python-tuf's own LengthOrHashMismatchError.
    """

    def __init__(self, *, metadata_dir: str, metadata_base_url: str, target_base_url: str,
                 fetcher: FetcherInterface) -> None:
        super().__init__(metadata_dir=metadata_dir, metadata_base_url=metadata_base_url,
                         target_base_url=target_base_url, fetcher=fetcher, bootstrap=None)
        self.fetcher, self.targets_url, self.metadata_dir = fetcher, target_base_url, metadata_dir

    def download_target(self, targetinfo: TargetFile, filepath: str | None = None,
                        target_base_url: str | None = None) -> str:
        if filepath is None:
            raise ValueError("a destination path is needed")
        path = targetinfo.path
        root = Metadata.from_file(os.path.join(self.metadata_dir, "root.json"))
        if root.signed.consistent_snapshot and self.config.prefix_targets_with_hash:
            folder, sep, base = path.rpartition("/")
            path = f"{folder}{sep}{next(iter(targetinfo.hashes.values()))}.{base}"
        hashers = {alg: hashlib.new(alg) for alg in targetinfo.hashes}
        received = 0
        with open(filepath, "wb") as out:
            for chunk in self.fetcher.fetch((target_base_url or self.targets_url) + path):
                received += len(chunk)
                if received > targetinfo.length:
                    raise tuf_errors.DownloadLengthMismatchError(
                        f"more than the signed {targetinfo.length} bytes")
                out.write(chunk)
                for h in hashers.values():
                    h.update(chunk)
        if received != targetinfo.length:
            raise tuf_errors.LengthOrHashMismatchError(
                f"{received} bytes received, {targetinfo.length} signed")
        for alg, h in hashers.items():
            if h.hexdigest() != targetinfo.hashes[alg]:
                raise tuf_errors.LengthOrHashMismatchError(f"the {alg} hash does not match")
        return filepath


def open_updater(config: RepoConfig, on_reset: Callable[[str], None] | None = None
                 ) -> ModelUpdater:
    """A refreshed ngclient Updater; ModelUpdateError subclasses on failure.

    ``on_reset`` gets seed_cache's line when a changed models.root reset the cache.
    """
    fetcher = VerifiedFetcher(tls_context(config.ca_bundle), config.proxy, config.timeout_s)
    try:
        note = seed_cache(config)
        if note and on_reset is not None:
            on_reset(note)
        updater = ModelUpdater(metadata_dir=str(config.cache),
                               metadata_base_url=config.url + "metadata/",
                               target_base_url=config.url + "targets/", fetcher=fetcher)
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
