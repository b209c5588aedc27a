"""packaging/cloud/model-repo: a TUF repository that python-tuf's own client accepts."""

from __future__ import annotations

import importlib
import itertools
import json
import shutil
import stat
import subprocess
import sys
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Targets, Timestamp
from tuf.ngclient import Updater

from engine.ai.package import read_package
from engine.ai.package_manifest import load_manifest, write_manifest
from engine.resources import builtin_model_dir
from tests.support.static_server import serve_folder

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging" / "cloud" / "model-repo"
BUILTIN = builtin_model_dir()


def model_repo(*args: object, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)],
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def run_json(*args: object) -> dict[str, Any]:
    doc = json.loads(model_repo(*args).stdout)
    assert isinstance(doc, dict)
    return doc


def bumped_copy(dest: Path, version: str) -> Path:
    """The shipped package under a new version, re-hashed like a real release."""
    shutil.copytree(BUILTIN, dest)
    manifest = load_manifest(dest)
    manifest["version"] = version
    write_manifest(dest, manifest)
    read_package(dest)
    return dest


def next_version(version: str) -> str:
    major, minor, _ = (int(x) for x in version.split("."))
    return f"{major}.{minor + 1}.0"


def client(repo: Path, base: str, trusted_root: Path, cache: Path) -> Updater:
    """A fresh ngclient that keeps its trusted metadata in ``cache``."""
    cache.mkdir(exist_ok=True)
    (cache / "targets").mkdir(exist_ok=True)
    bootstrap = None if (cache / "root.json").exists() else trusted_root.read_bytes()
    updater = Updater(metadata_dir=str(cache), metadata_base_url=base + "metadata/",
                      target_dir=str(cache / "targets"), target_base_url=base + "targets/",
                      bootstrap=bootstrap)
    updater.refresh()
    return updater


def cached_version(cache: Path, role: str) -> int:
    return int(Metadata.from_file(str(cache / f"{role}.json")).signed.version)


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path / "repo"
    return folder, run_json("init", folder)


def test_init_builds_offline_root_online_timestamp_and_channel_delegations(repo) -> None:
    folder, doc = repo
    assert doc == {"repo": str(folder), "metadata_url_path": "metadata/",
                   "targets_url_path": "targets/", "root": doc["root"],
                   "channels": ["stable", "pilot"]}
    root: Root = Metadata[Root].from_file(doc["root"]).signed
    assert root.consistent_snapshot is True
    assert (len(root.roles["root"].keyids), root.roles["root"].threshold) == (3, 2)
    assert (len(root.roles["targets"].keyids), root.roles["targets"].threshold) == (1, 1)
    assert root.roles["snapshot"].keyids == root.roles["timestamp"].keyids
    offline = set(root.roles["root"].keyids) | set(root.roles["targets"].keyids)
    assert not offline & set(root.roles["timestamp"].keyids)

    names = sorted(p.name for p in (folder / "metadata").iterdir())
    assert names == ["1.pilot.json", "1.root.json", "1.snapshot.json", "1.stable.json",
                     "1.targets.json", "timestamp.json"]
    targets: Targets = Metadata[Targets].from_file(
        str(folder / "metadata" / "1.targets.json")).signed
    assert targets.delegations is not None and targets.delegations.roles is not None
    roles = targets.delegations.roles
    assert {n: r.paths for n, r in roles.items()} == {"stable": ["stable/*"],
                                                     "pilot": ["pilot/*"]}
    assert roles["stable"].keyids != roles["pilot"].keyids

    ts: Timestamp = Metadata[Timestamp].from_file(
        str(folder / "metadata" / "timestamp.json")).signed
    days = (ts.expires - root.expires).days
    assert -360 <= days <= -356  # timestamp 7 days, root 1 year

    keys = list((folder / "keys").iterdir())
    assert len(keys) == 3 + 1 + 1 + 2  # root, targets, online, two channels
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    served = [*(folder / "metadata").iterdir(), *(folder / "targets").rglob("*")]
    assert not any("PRIVATE KEY" in p.read_text() for p in served if p.is_file())


def test_init_refuses_a_non_empty_folder_and_a_bad_threshold(repo, tmp_path: Path) -> None:
    folder, doc = repo
    before = Path(doc["root"]).read_bytes()
    done = model_repo("init", folder, ok=False)
    assert done.returncode == 1 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "not an empty folder" in done.stderr
    assert Path(doc["root"]).read_bytes() == before

    done = model_repo("init", tmp_path / "other", "--root-keys", "2", "--root-threshold", "3",
                      ok=False)
    assert done.returncode == 2 and "threshold" in done.stderr
    done = model_repo("add", folder, BUILTIN, "--channel", "beta", ok=False)
    assert done.returncode == 2 and "unknown channel 'beta'" in done.stderr
    done = model_repo("add", tmp_path, BUILTIN, ok=False)
    assert done.returncode == 1 and "not a model repository" in done.stderr
    (folder / "metadata" / "timestamp.json").write_text("{")
    done = model_repo("timestamp", folder, ok=False)
    assert done.returncode == 1 and "metadata unreadable" in done.stderr
    doc = run_json("init", tmp_path / "five", "--root-keys", "5", "--root-threshold", "3")
    root = Metadata[Root].from_file(doc["root"]).signed
    assert (len(root.roles["root"].keyids), root.roles["root"].threshold) == (5, 3)


def test_published_package_reaches_a_tuf_client_through_the_channel(repo, tmp_path) -> None:
    folder, doc = repo
    first = run_json("add", folder, BUILTIN)
    shipped = load_manifest(BUILTIN)
    assert first["target"] == f"stable/{shipped['name']}-{shipped['version']}.tar"
    assert Path(first["file"]).name.startswith(first["sha256"] + ".")
    newer = bumped_copy(tmp_path / "newer", next_version(shipped["version"]))
    second = run_json("add", folder, newer)
    assert second["version"] == next_version(shipped["version"])

    with serve_folder(folder) as base:
        updater = client(folder, base, Path(doc["root"]), tmp_path / "cache")
        for published in (first, second):
            info = updater.get_targetinfo(published["target"])
            assert info is not None, published["target"]
            assert info.custom == {"name": shipped["name"], "version": published["version"]}
            assert (info.length, info.hashes["sha256"]) == (published["length"],
                                                            published["sha256"])
        assert updater.get_targetinfo(f"pilot/{shipped['name']}.tar") is None
        newest = updater.get_targetinfo(second["target"])
        assert newest is not None
        downloaded = Path(updater.download_target(newest))

    out = tmp_path / "unpacked"
    with tarfile.open(downloaded) as tar:
        tar.extractall(out, filter="data")
    pkg = read_package(out / f"{shipped['name']}-{second['version']}")
    assert pkg.version == second["version"]

    refused = model_repo("add", folder, BUILTIN, ok=False)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "is not newer than" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    again = model_repo("add", folder, newer, ok=False)
    assert "is not newer than" in again.stderr

    # Same files, same bytes: the pilot copy of the first package packs identically.
    pilot = run_json("add", folder, BUILTIN, "--channel", "pilot")
    assert (pilot["target"], pilot["sha256"]) == (
        first["target"].replace("stable/", "pilot/"), first["sha256"])


def test_timestamp_and_key_rotations_are_followed_by_an_existing_client(repo, tmp_path) -> None:
    folder, doc = repo
    target = run_json("add", folder, BUILTIN)["target"]
    cache = tmp_path / "cache"
    with serve_folder(folder) as base:
        client(folder, base, Path(doc["root"]), cache)
        seen = cached_version(cache, "timestamp")

        stamped = run_json("timestamp", folder)
        assert stamped["timestamp_version"] == seen + 1
        client(folder, base, Path(doc["root"]), cache)
        assert cached_version(cache, "timestamp") == seen + 1

        old_ts_key = Metadata[Root].from_file(doc["root"]).signed.roles["timestamp"].keyids
        retired_pem = (folder / "keys" / f"{old_ts_key[0]}.pem").read_bytes()
        for role in ("timestamp", "snapshot", "targets", "stable", "pilot"):
            rotated = run_json("rotate", folder, role)
            assert rotated["new_keyid"] not in rotated["old_keyids"]
            updater = client(folder, base, Path(doc["root"]), cache)
            assert updater.get_targetinfo(target) is not None, role
        assert cached_version(cache, "root") == 4  # timestamp, snapshot, targets
        assert not (folder / "keys" / f"{old_ts_key[0]}.pem").exists()

        # Each new root is signed by the previous root's threshold of keys.
        versions = [Metadata[Root].from_file(str(folder / "metadata" / f"{v}.root.json"))
                    for v in (1, 2, 3, 4)]
        for old, new in itertools.pairwise(versions):
            old.verify_delegate("root", new)
        assert set(versions[-1].signed.roles["timestamp"].keyids).isdisjoint(old_ts_key)

        # A timestamp signed with the retired key no longer convinces the client.
        forged = Metadata[Timestamp].from_file(str(folder / "metadata" / "timestamp.json"))
        forged.signed.version += 1
        retired = CryptoSigner(load_pem_private_key(retired_pem, None),
                               versions[0].signed.keys[old_ts_key[0]])  # type: ignore[arg-type]
        forged.sign(retired)
        forged.to_file(str(folder / "metadata" / "timestamp.json"))
        with pytest.raises(UnsignedMetadataError):
            client(folder, base, Path(doc["root"]), cache)


def test_root_key_rotation_meets_both_thresholds_and_is_followed(repo, tmp_path) -> None:
    folder, doc = repo
    target = run_json("add", folder, BUILTIN)["target"]
    cache = tmp_path / "cache"
    first = Metadata[Root].from_file(doc["root"])
    retired = first.signed.roles["root"].keyids[1]
    with serve_folder(folder) as base:
        client(folder, base, Path(doc["root"]), cache)
        rotated = run_json("rotate", folder, "root", "--key", retired[:8])
        assert rotated["old_keyids"] == [retired] and rotated["root_version"] == 2
        second = Metadata[Root].from_file(str(folder / "metadata" / "2.root.json"))
        assert (folder / "root.json").read_bytes() == (
            folder / "metadata" / "2.root.json").read_bytes()
        first.verify_delegate("root", second)  # the old threshold of old keys
        second.verify_delegate("root", second)  # and the new threshold of new keys
        keys = second.signed.roles["root"].keyids
        assert retired not in keys and rotated["new_keyid"] in keys
        assert (len(keys), second.signed.roles["root"].threshold) == (3, 2)
        assert not (folder / "keys" / f"{retired}.pem").exists()
        updater = client(folder, base, Path(doc["root"]), cache)
        assert updater.get_targetinfo(target) is not None
        assert cached_version(cache, "root") == 2

    done = model_repo("rotate", folder, "root", "--key", "zz", ok=False)
    assert done.returncode == 2 and "names no root key" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = model_repo("rotate", folder, "timestamp", "--key", keys[0], ok=False)
    assert done.returncode == 2 and "--key" in done.stderr
    assert not (folder / "metadata" / "3.root.json").exists()


def test_daily_timestamp_renews_a_snapshot_about_to_expire(repo, monkeypatch) -> None:
    """A week without a new package: the daily timestamp job keeps clients working."""
    sys.path.insert(0, str(SCRIPT.parent))
    repo_lib = importlib.import_module("model_repo_lib")
    folder, _ = repo
    before = json.loads(model_repo("timestamp", folder).stdout)
    assert before["snapshot_renewed"] is False
    real_now = repo_lib._now
    # Five days later the 7-day snapshot has 2 days left: signed anew.
    monkeypatch.setattr(repo_lib, "_now", lambda: real_now() + timedelta(days=5))
    renewed = repo_lib.timestamp(folder)
    assert renewed["snapshot_renewed"] is True
    assert renewed["snapshot_version"] > before["snapshot_version"]
    # Three days after that the new one has 4 days left: only a timestamp.
    monkeypatch.setattr(repo_lib, "_now", lambda: real_now() + timedelta(days=8))
    assert repo_lib.timestamp(folder)["snapshot_renewed"] is False
    snap_v = renewed["snapshot_version"]
    snapshot = json.loads((folder / "metadata" / f"{snap_v}.snapshot.json").read_text())
    expires = datetime.fromisoformat(snapshot["signed"]["expires"].replace("Z", "+00:00"))
    assert expires - datetime.now(UTC) > timedelta(days=11)
