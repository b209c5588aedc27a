"""``models check`` against the attacks TUF is meant to stop, and broken downloads.

Each repository is served on loopback.  A refused check must exit 1 (3 when
the repository is unreachable), say what is wrong in one line, leave the
active model as it was and nothing in staging, and log ``check_failed`` with
the reason.
"""

from __future__ import annotations

import errno
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, MetaFile, Root
from tuf.api.serialization.json import JSONSerializer

from engine.ai import update_log
from engine.ai.package import active_package, install_package
from engine.paths import app_paths
from engine.settings import Settings
from sync.model_updates import client
from sync.model_updates import repo as repo_mod
from sync.model_updates.errors import (
    ModelRepoOffline,
    ModelRepoTlsError,
    ModelUpdateConfigError,
    ModelUpdateError,
)
from sync.model_updates.repo import RepoConfig, newest_target, open_updater
from tests.support.cli import ROOT, run_cli
from tests.support.https_servers import Pki, Servers, make_pki
from tests.support.model_bundles import packed, repo_lib
from tests.support.model_packages import make_package
from tests.support.model_repo_server import (
    ENDLESS,
    STALL,
    TRUNCATE,
    RepoServer,
    folder_app,
)

SCRIPT = ROOT / "packaging" / "cloud" / "model-repo"
PAST = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def publish(repo: Path, tmp: Path, version: str, channel: str = "stable") -> dict[str, Any]:
    return repo_lib.add(repo, "demo", version, packed(tmp / version, "demo", version), channel)


def served_path(added: dict[str, Any], repo: Path) -> str:
    return "/" + Path(added["file"]).relative_to(repo).as_posix()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Path, RepoServer]]:
    """(home with demo 1.0.0 active, repository folder, its server)."""
    home, repo = tmp_path / "home", tmp_path / "repo"
    repo_lib.init(repo)
    install_package(make_package(tmp_path / "v1", "demo", "1.0.0"), home / "models")
    with RepoServer(repo) as server:
        Settings(home / "config").update({"models.url": server.url,
                                          "models.root": str(repo / "root.json"),
                                          "cloud.dev_plain_http": "yes"})
        yield home, repo, server


def check(home: Path) -> tuple[int, dict[str, Any], str]:
    """Exit status, the JSON answer ({} when it failed) and stderr."""
    done = run_cli("models", "check", "--json", home=home)
    doc = json.loads(done.stdout) if done.returncode == 0 else {}
    return done.returncode, doc, done.stderr


def check_ok(home: Path) -> dict[str, Any]:
    code, doc, err = check(home)
    assert code == 0, err
    return doc


def last_event(home: Path) -> update_log.Entry:
    return update_log.entries(update_log.log_path(home / "models"))[-1]


def assert_unchanged(home: Path, candidates: tuple[str, ...] = ()) -> None:
    """Demo 1.0.0 active; no staging folder and no candidate but ``candidates``."""
    pkg = active_package(home / "models", None)
    assert pkg is not None and pkg.version == "1.0.0"
    cands = home / "models" / ".candidates"
    left = sorted(p.name for p in cands.iterdir()) if cands.exists() else []
    assert left == sorted(candidates)


def assert_refused(home: Path, code: int, *words: str) -> None:
    got, _, err = check(home)
    assert got == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in err, err
    assert_unchanged(home)
    entry = last_event(home)
    assert entry.event == "check_failed"
    assert all(word in entry.details["reason"] for word in words), entry.details
    assert update_log.verify(update_log.log_path(home / "models")).ok


def fetched_targets(server: RepoServer) -> list[str]:
    return [p for p in server.paths if p.startswith("/targets/")]


def write_signed(r: Any, role: str, md: Metadata[Any], expires: datetime | None = None) -> None:
    """Sign ``md`` with the role's keys as it is (version, expiry) and write it."""
    if expires is not None:
        md.signed.expires = expires
    r.sign(role, md)
    name = "timestamp.json" if role == "timestamp" else f"{md.signed.version}.{role}.json"
    (r.meta_dir / name).write_bytes(md.to_bytes(JSONSerializer(compact=False)))


def new_snapshot_and_timestamp(r: Any) -> None:
    r.snapshot.signed.version += 1
    r.write("snapshot", r.snapshot)
    r.bump_timestamp()


def cached_version(home: Path, role: str) -> int:
    cache = home / "cache" / "model-updates"
    return int(Metadata.from_file(str(cache / f"{role}.json")).signed.version)


def pem_signer(repo: Path, key: Any) -> CryptoSigner:
    private = load_pem_private_key((repo / "keys" / f"{key.keyid}.pem").read_bytes(), None)
    return CryptoSigner(private, key)


# -- rollback ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets", "stable"])
def test_metadata_re_signed_with_a_lower_version_than_cached_is_refused(site, role) -> None:
    home, repo, server = site
    repo_lib.rotate(repo, "stable")  # targets and stable at version 2, like a used repo
    check_ok(home)
    r = repo_lib.Repo.load(repo)
    if role == "timestamp":
        r.timestamp.signed.version -= 1
        r.write("timestamp", r.timestamp)
    elif role == "snapshot":  # a newer timestamp naming the previous snapshot
        r.timestamp.signed.snapshot_meta = MetaFile(r.snapshot.signed.version - 1)
        r.timestamp.signed.version += 1
        r.write("timestamp", r.timestamp)
    else:  # a newer snapshot naming the previous targets or channel metadata
        meta = r.snapshot.signed.meta[f"{role}.json"]
        assert meta.version == cached_version(home, role) == 2
        r.snapshot.signed.meta[f"{role}.json"] = MetaFile(1)
        new_snapshot_and_timestamp(r)
    assert_refused(home, 1, "went back to older metadata")
    assert fetched_targets(server) == []


def test_channel_offering_only_an_older_version_fetches_nothing(site, tmp_path) -> None:
    home, repo, server = site
    publish(repo, tmp_path, "0.9.0")
    doc = check_ok(home)
    assert doc["candidate"] is None and "up to date" in doc["reason"]
    assert_unchanged(home)
    assert fetched_targets(server) == []
    assert not (home / "models" / update_log.LOG_NAME).exists() or all(
        e.event != "fetched" for e in update_log.entries(update_log.log_path(home / "models")))


# -- freeze ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["snapshot", "targets", "stable"])
def test_expired_snapshot_targets_or_channel_metadata_is_refused(site, tmp_path, role) -> None:
    home, repo, server = site
    publish(repo, tmp_path, "1.1.0")
    r = repo_lib.Repo.load(repo)
    if role == "snapshot":
        r.snapshot.signed.version += 1
        write_signed(r, "snapshot", r.snapshot, PAST)
        r.bump_timestamp()
    else:
        md = r.targets[role]
        md.signed.version += 1
        write_signed(r, role, md, PAST)
        r.snapshot.signed.meta[f"{role}.json"] = MetaFile(md.signed.version)
        new_snapshot_and_timestamp(r)
    assert_refused(home, 1, "expired")
    assert fetched_targets(server) == []


# -- tampering ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "stable"])
def test_tampered_metadata_bytes_are_refused(site, tmp_path, role) -> None:
    home, repo, server = site
    publish(repo, tmp_path, "1.1.0")
    r = repo_lib.Repo.load(repo)
    version = {"timestamp": None, "snapshot": r.snapshot.signed.version,
               "stable": r.targets["stable"].signed.version}[role]
    path = repo / "metadata" / ("timestamp.json" if version is None
                                else f"{version}.{role}.json")
    text = path.read_text()
    expires = json.loads(text)["signed"]["expires"]
    later = expires.replace(expires[:4], str(int(expires[:4]) + 5), 1)
    path.write_text(text.replace(expires, later))  # valid JSON, one field changed
    assert_refused(home, 1, "not properly signed")
    assert fetched_targets(server) == []


def test_old_snapshot_served_with_the_current_timestamp_is_refused(site, tmp_path) -> None:
    home, repo, server = site
    check_ok(home)
    old = repo_lib.Repo.load(repo).snapshot.signed.version
    publish(repo, tmp_path, "1.1.0")
    new = repo_lib.Repo.load(repo).snapshot.signed.version
    assert new > old
    server.overrides[f"/metadata/{new}.snapshot.json"] = (
        repo / "metadata" / f"{old}.snapshot.json").read_bytes()
    assert_refused(home, 1, "went back to older metadata", f"version {new}")
    assert fetched_targets(server) == []


def test_file_dropped_into_targets_without_metadata_is_never_fetched(site, tmp_path) -> None:
    home, repo, server = site
    data = packed(tmp_path, "demo", "9.9.9")
    digest = hashlib.sha256(data).hexdigest()
    (repo / "targets" / "stable").mkdir(parents=True, exist_ok=True)
    (repo / "targets" / "stable" / f"{digest}.demo-9.9.9.tar").write_bytes(data)
    (repo / "targets" / "stable" / "demo-9.9.9.tar").write_bytes(data)
    doc = check_ok(home)
    assert doc["candidate"] is None and "up to date" in doc["reason"]
    assert_unchanged(home)
    assert fetched_targets(server) == []

    cache = tmp_path / "direct-cache"
    config = RepoConfig(url=server.url, trusted_root=repo / "root.json", channel="stable",
                        cache=cache)
    updater = open_updater(config)
    assert updater.get_targetinfo("stable/demo-9.9.9.tar") is None
    assert newest_target(updater, cache, "stable", "demo", (1, 0, 0)) is None
    assert fetched_targets(server) == []


# -- endless data ------------------------------------------------------------------------


def test_endless_timestamp_is_cut_off_at_the_metadata_limit(site) -> None:
    home, _, server = site
    server.faults["/metadata/timestamp.json"] = ENDLESS
    started = time.monotonic()
    assert_refused(home, 1, "longer than")
    assert time.monotonic() - started < 20
    assert server.bytes_sent < 64 * 1024 * 1024


def test_endless_target_is_cut_off_at_its_signed_length(site, tmp_path) -> None:
    home, repo, server = site
    added = publish(repo, tmp_path, "1.1.0")
    server.faults[served_path(added, repo)] = ENDLESS
    started = time.monotonic()
    assert_refused(home, 1, "longer than")
    assert time.monotonic() - started < 20
    assert server.bytes_sent < 64 * 1024 * 1024


# -- keys and thresholds -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["timestamp", "stable"])
def test_metadata_signed_by_a_key_not_in_root_is_refused(site, tmp_path, role) -> None:
    home, repo, server = site
    publish(repo, tmp_path, "1.1.0")
    r = repo_lib.Repo.load(repo)
    md = r.timestamp if role == "timestamp" else r.targets[role]
    md.signed.version += 1
    md.signatures.clear()
    md.sign(CryptoSigner.generate_ed25519())
    name = "timestamp.json" if role == "timestamp" else f"{md.signed.version}.{role}.json"
    (repo / "metadata" / name).write_bytes(md.to_bytes(JSONSerializer(compact=False)))
    if role != "timestamp":
        r.snapshot.signed.meta[f"{role}.json"] = MetaFile(md.signed.version)
        new_snapshot_and_timestamp(r)
    assert_refused(home, 1, "not properly signed")
    assert fetched_targets(server) == []


def _next_root(repo: Path) -> tuple[Any, Metadata[Root]]:
    r = repo_lib.Repo.load(repo)
    md = Metadata[Root].from_bytes(r.root.to_bytes())
    md.signed.version += 1
    md.signatures.clear()
    return r, md


def test_root_update_signed_by_one_of_three_root_keys_is_refused(site) -> None:
    home, repo, _ = site
    check_ok(home)
    r, md = _next_root(repo)
    attacker = CryptoSigner.generate_ed25519()  # the change the attacker wants
    md.signed.add_key(attacker.public_key, "timestamp")
    md.sign(pem_signer(repo, r.root.signed.keys[r.root.signed.roles["root"].keyids[0]]))
    (repo / "metadata" / "2.root.json").write_bytes(md.to_bytes())
    assert_refused(home, 1, "not properly signed", "root")
    assert cached_version(home, "root") == 1


def test_root_rotation_signed_only_by_new_keys_is_refused(site) -> None:
    home, repo, _ = site
    check_ok(home)
    _, md = _next_root(repo)
    root = md.signed
    fresh = [CryptoSigner.generate_ed25519() for _ in range(3)]
    for keyid in list(root.roles["root"].keyids):
        root.revoke_key(keyid, "root")
    for signer in fresh:
        root.add_key(signer.public_key, "root")
        md.sign(signer, append=True)
    (repo / "metadata" / "2.root.json").write_bytes(md.to_bytes())
    assert_refused(home, 1, "not properly signed", "root")
    assert cached_version(home, "root") == 1


def test_snapshot_signed_with_its_rotated_out_key_is_refused(site) -> None:
    home, repo, _ = site
    check_ok(home)
    r = repo_lib.Repo.load(repo)
    retired = pem_signer(repo, r.role_keys("snapshot")[0])
    rotated = repo_lib.rotate(repo, "snapshot")
    assert rotated["old_keyids"] == [retired.public_key.keyid]
    check_ok(home)
    r = repo_lib.Repo.load(repo)
    r.snapshot.signed.version += 1
    r.snapshot.signatures.clear()
    r.snapshot.sign(retired)
    (repo / "metadata" / f"{r.snapshot.signed.version}.snapshot.json").write_bytes(
        r.snapshot.to_bytes())
    r.bump_timestamp()
    assert_refused(home, 1, "not properly signed", "snapshot")


def test_every_rotation_done_with_model_repo_is_followed_by_an_existing_client(
        site, tmp_path) -> None:
    home, repo, _ = site
    check_ok(home)
    first = json.loads(run_cli_script("rotate", repo, "root"))
    assert first["root_version"] == 2
    assert check_ok(home)["candidate"] is None
    assert cached_version(home, "root") == 2
    for role in ("timestamp", "snapshot", "targets", "stable", "pilot", "root"):
        repo_lib.rotate(repo, role)
    second = repo_lib.Repo.load(repo).root.signed
    last_root_key = second.roles["root"].keyids[-1]
    repo_lib.rotate(repo, "root", last_root_key[:10])
    publish(repo, tmp_path, "1.1.0")
    doc = check_ok(home)
    assert doc["candidate"] == "1.1.0"
    final = repo_lib.Repo.load(repo).root.signed
    assert cached_version(home, "root") == final.version == 7
    assert last_root_key not in final.roles["root"].keyids
    assert len(final.roles["root"].keyids) == 3 and final.roles["root"].threshold == 2
    assert_unchanged(home, ("demo-1.1.0",))
    verified = [e for e in update_log.entries(update_log.log_path(home / "models"))
                if e.event == "verified"]
    assert [e.details["version"] for e in verified] == ["1.1.0"]
    stable_key = repo_lib.Repo.load(repo).role_keys("stable")[0].keyid  # the rotated one
    assert verified[0].details["keyids"] == [stable_key]


def run_cli_script(*args: object) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return done.stdout


# -- broken downloads and a full disk ----------------------------------------------------


def test_server_gone_halfway_through_the_package_is_offline(site, tmp_path) -> None:
    home, repo, server = site
    added = publish(repo, tmp_path, "1.1.0")
    server.faults[served_path(added, repo)] = TRUNCATE
    assert_refused(home, 3, "broke off")
    assert served_path(added, repo) in server.paths


def test_server_that_stops_sending_is_offline_after_the_timeout(site, tmp_path) -> None:
    _, repo, server = site
    server.faults["/metadata/timestamp.json"] = STALL
    config = RepoConfig(url=server.url, trusted_root=repo / "root.json", channel="stable",
                        cache=tmp_path / "cache", timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(ModelRepoOffline, match="stopped answering"):
        open_updater(config)
    assert time.monotonic() - started < 10


def _enospc(*_: object, **__: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("where", ["download", "unpack"])
def test_full_disk_while_staging_leaves_nothing_and_says_so(site, tmp_path, monkeypatch,
                                                             where) -> None:
    home, repo, _ = site
    publish(repo, tmp_path, "1.1.0")
    paths = app_paths(home)
    if where == "download":  # the download is written into the staging folder
        real_open = open

        class FillsUp:
            """A staging file on a disk that fills up halfway through the first write."""

            def __init__(self, path: Any, mode: str) -> None:
                self.file = real_open(path, mode)

            def __enter__(self) -> FillsUp:
                return self

            def __exit__(self, *exc: object) -> None:
                self.file.close()

            def write(self, data: bytes) -> int:
                self.file.write(data[: len(data) // 2])
                _enospc()
                return 0

        monkeypatch.setattr(repo_mod, "open", FillsUp, raising=False)
    else:
        monkeypatch.setattr(tarfile.TarFile, "makefile", _enospc)
    with pytest.raises(ModelUpdateError) as caught:
        client.check(paths, Settings(paths.config).all())
    message = str(caught.value)
    assert "\n" not in message and "space" in message, message
    assert_unchanged(home)
    entry = last_event(home)
    assert entry.event == "check_failed" and "space" in entry.details["reason"]


# -- TLS and proxy (cloud.ca_bundle, cloud.proxy) ----------------------------------------


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[Path, Pki, Servers]]:
    """(repository with demo 1.1.0 on stable, throwaway PKI, loopback servers)."""
    repo = tmp_path / "repo"
    repo_lib.init(repo)
    publish(repo, tmp_path, "1.1.0")
    pki = make_pki(tmp_path / "pki")
    servers = Servers(pki)
    try:
        yield repo, pki, servers
    finally:
        servers.close()


def tls_config(repo: Path, url: str, cache: Path, ca_bundle: str = "", proxy: str = ""
               ) -> RepoConfig:
    return RepoConfig(url=url + "/", trusted_root=repo / "root.json", channel="stable",
                      cache=cache, ca_bundle=ca_bundle, proxy=proxy)


def test_https_repository_verifies_with_the_hospital_ca_bundle(tls, tmp_path) -> None:
    repo, pki, servers = tls
    served = servers.https(folder_app(repo))
    config = tls_config(repo, served.url, tmp_path / "cache", ca_bundle=str(pki.ca))
    updater = open_updater(config)
    found = newest_target(updater, config.cache, "stable", "demo", (1, 0, 0))
    assert found is not None and found[0].custom["version"] == "1.1.0"
    out = tmp_path / "package.tar"
    updater.download_target(found[0], str(out))
    assert hashlib.sha256(out.read_bytes()).hexdigest() == found[0].hashes["sha256"]


@pytest.mark.parametrize("case", ["no-ca-bundle", "other-ca"])
def test_https_repository_with_an_untrusted_certificate_is_one_tls_line(tls, tmp_path,
                                                                       case) -> None:
    repo, pki, servers = tls
    served = servers.https(folder_app(repo), cert="good" if case == "no-ca-bundle" else "rogue")
    bundle = "" if case == "no-ca-bundle" else str(pki.ca)
    with pytest.raises(ModelRepoTlsError) as caught:
        open_updater(tls_config(repo, served.url, tmp_path / "cache", bundle))
    message = str(caught.value)
    assert "\n" not in message and "certificate" in message and "cloud.ca_bundle" in message
    assert served.seen == []  # no request went over the unverified connection


def test_https_repository_through_the_configured_proxy(tls, tmp_path) -> None:
    repo, pki, servers = tls
    served = servers.https(folder_app(repo))
    proxy = servers.proxy()
    config = tls_config(repo, served.url, tmp_path / "cache", ca_bundle=str(pki.ca),
                        proxy=proxy.url)
    updater = open_updater(config)
    assert newest_target(updater, config.cache, "stable", "demo", (1, 0, 0)) is not None
    assert proxy.seen and all(seen == ("CONNECT", f"localhost:{served.port}")
                              for seen in proxy.seen)
    with pytest.raises(ModelUpdateConfigError, match=r"cloud\.proxy"):
        open_updater(tls_config(repo, served.url, tmp_path / "c2", proxy="socks5://x:1"))


# -- a changed trusted root (models.root) ------------------------------------------------


def test_a_new_trusted_root_file_resets_the_cache_instead_of_trusting_the_old_one(
        site, tmp_path) -> None:
    home, _, _ = site
    check_ok(home)
    cache = home / "cache" / "model-updates"
    seeded = (cache / "trusted-root.sha256").read_text().strip()

    other = tmp_path / "rebuilt"  # the repository rebuilt with new root keys
    repo_lib.init(other)
    publish(other, tmp_path / "o", "1.1.0")
    with RepoServer(other) as server:
        Settings(home / "config").update({"models.url": server.url,
                                          "models.root": str(other / "root.json")})
        doc = check_ok(home)
        assert doc["candidate"] == "1.1.0"
        digest = hashlib.sha256((other / "root.json").read_bytes()).hexdigest()
        assert (cache / "trusted-root.sha256").read_text().strip() == digest != seeded

        notes: list[str] = []
        config = RepoConfig(url=server.url, trusted_root=other / "root.json",
                            channel="stable", cache=cache)
        open_updater(config, on_reset=notes.append)
        assert notes == []  # same file: the cache (and its rollback protection) is kept
        shutil.copyfile(site[1] / "root.json", tmp_path / "old-root.json")
        config = RepoConfig(url=site[2].url, trusted_root=tmp_path / "old-root.json",
                            channel="stable", cache=cache)
        open_updater(config, on_reset=notes.append)
        assert len(notes) == 1 and "models.root" in notes[0] and "reset" in notes[0]
