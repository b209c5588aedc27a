"""The TUF model repository behind `packaging/cloud/model-repo`.

Roles: root (offline keys, a threshold of them), targets (one offline key),
snapshot and timestamp (one shared online key), and one delegated role per
channel (`stable`, `pilot`), each with its own key.  Consistent snapshots:
metadata files are `<version>.<role>.json` (except `timestamp.json`) and
target files `<sha256>.<name>` next to where their target path says.

DIR/metadata and DIR/targets are what a web server serves; DIR/keys holds the
private keys (PEM, mode 600, named by key id) and is never served.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Key, Signer
from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

CHANNELS = ("stable", "pilot")
ROLES = ("timestamp", "snapshot", "targets", *CHANNELS)
EXPIRY = {  # how long each role's metadata stays valid after it is signed
    "root": timedelta(days=365),
    "targets": timedelta(days=365),
    "stable": timedelta(days=365),
    "pilot": timedelta(days=365),
    "snapshot": timedelta(days=7),
    "timestamp": timedelta(days=7),
}
ROOT_KEYS, ROOT_THRESHOLD = 3, 2
_SEMVER = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
EXIT_ERROR, EXIT_USAGE = 1, 2


class RepoError(Exception):
    """One line for the operator, and the exit status."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# ----------------------------------------------------------------- files and keys

def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _new_signer(repo: Path) -> CryptoSigner:
    signer = CryptoSigner.generate_ed25519()
    keyid = signer.public_key.keyid
    _write_atomic(repo / "keys" / f"{keyid}.pem", signer.private_bytes, 0o600)
    return signer


def _signer(repo: Path, key: Key) -> Signer:
    path = repo / "keys" / f"{key.keyid}.pem"
    try:
        private = load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError) as e:
        raise RepoError(f"private key {key.keyid[:12]} missing or unreadable in "
                        f"{repo / 'keys'}") from e
    return CryptoSigner(private, key)  # type: ignore[arg-type]


class Repo:
    """The newest metadata of every role, loaded from DIR/metadata."""

    def __init__(self, path: Path, mds: dict[str, Metadata[Any]]) -> None:
        self.path = Path(path)
        self.meta_dir = self.path / "metadata"
        self.targets_dir = self.path / "targets"
        self.root: Metadata[Root] = mds["root"]
        self.timestamp: Metadata[Timestamp] = mds["timestamp"]
        self.snapshot: Metadata[Snapshot] = mds["snapshot"]
        self.targets: dict[str, Metadata[Targets]] = {
            role: mds[role] for role in ("targets", *CHANNELS)}

    @classmethod
    def load(cls, path: Path) -> Repo:
        meta_dir = Path(path) / "metadata"
        if not (meta_dir / "timestamp.json").is_file():
            raise RepoError(f"{path} is not a model repository (no metadata/timestamp.json)")
        try:
            newest = max(int(p.name.split(".")[0]) for p in meta_dir.glob("*.root.json"))
            mds: dict[str, Metadata[Any]] = {
                "root": Metadata.from_file(str(meta_dir / f"{newest}.root.json")),
                "timestamp": Metadata.from_file(str(meta_dir / "timestamp.json"))}
            snap_v = mds["timestamp"].signed.snapshot_meta.version
            mds["snapshot"] = Metadata.from_file(str(meta_dir / f"{snap_v}.snapshot.json"))
            for role in ("targets", *CHANNELS):
                v = mds["snapshot"].signed.meta[f"{role}.json"].version
                mds[role] = Metadata.from_file(str(meta_dir / f"{v}.{role}.json"))
        except (OSError, ValueError, KeyError, RepositoryError) as e:
            raise RepoError(f"{path}: metadata unreadable ({type(e).__name__})") from e
        return cls(path, mds)

    # -- keys
    def role_keys(self, role: str) -> list[Key]:
        if role in CHANNELS:
            delegations = self.targets["targets"].signed.delegations
            assert delegations is not None and delegations.roles is not None
            return [delegations.keys[k] for k in delegations.roles[role].keyids]
        root = self.root.signed
        return [root.keys[k] for k in root.roles[role].keyids]

    def sign(self, role: str, md: Metadata[Any]) -> None:
        md.signatures.clear()
        for key in self.role_keys(role):
            md.sign(_signer(self.path, key), append=True)

    def write(self, role: str, md: Metadata[Any]) -> None:
        md.signed.expires = _now() + EXPIRY[role]
        self.sign(role, md)
        name = "timestamp.json" if role == "timestamp" else f"{md.signed.version}.{role}.json"
        _write_atomic(self.meta_dir / name, md.to_bytes(JSONSerializer(compact=False)))

    def bump(self, role: str) -> None:
        """Sign a new version of a targets role, then snapshot and timestamp."""
        if role in ("targets", *CHANNELS):
            md = self.targets[role]
            md.signed.version += 1
            self.write(role, md)
            self.snapshot.signed.meta[f"{role}.json"] = MetaFile(md.signed.version)
        self.snapshot.signed.version += 1
        self.write("snapshot", self.snapshot)
        self.bump_timestamp()

    def bump_timestamp(self) -> None:
        self.timestamp.signed.snapshot_meta = MetaFile(self.snapshot.signed.version)
        self.timestamp.signed.version += 1
        self.write("timestamp", self.timestamp)

    def write_root(self, previous: Metadata[Root] | None = None) -> None:
        """Sign and write root: by the new root's keys and, when ``previous``
        (the root it replaces) is given, by its keys too, so that clients
        trusting ``previous`` accept it; checked against both thresholds."""
        root = self.root.signed
        root.expires = _now() + EXPIRY["root"]
        self.sign("root", self.root)
        if previous is not None:
            signed = set(self.root.signatures)
            old = previous.signed
            for keyid in old.roles["root"].keyids:
                if keyid not in signed:
                    self.root.sign(_signer(self.path, old.keys[keyid]), append=True)
            try:
                previous.verify_delegate("root", self.root)
                self.root.verify_delegate("root", self.root)
            except RepositoryError as e:
                raise RepoError(f"the new root does not meet the root threshold ({e})") from e
        data = self.root.to_bytes(JSONSerializer(compact=False))
        _write_atomic(self.meta_dir / f"{root.version}.root.json", data)
        _write_atomic(self.path / "root.json", data)


@contextmanager
def _locked(repo: Path) -> Iterator[None]:
    fd = os.open(repo / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ----------------------------------------------------------------- commands

def init(repo: Path, root_keys: int = ROOT_KEYS, root_threshold: int = ROOT_THRESHOLD
         ) -> dict[str, Any]:
    repo = Path(repo)
    if not 1 <= root_threshold <= root_keys:
        raise RepoError(f"root threshold {root_threshold} must be between 1 and the "
                        f"number of root keys ({root_keys})", EXIT_USAGE)
    if repo.exists() and (not repo.is_dir() or any(repo.iterdir())):
        raise RepoError(f"{repo} is not an empty folder; refusing to create a repository there")
    for sub in ("metadata", "targets", "keys"):
        (repo / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(repo / "keys", 0o700)
    now = _now()
    root = Root(expires=now + EXPIRY["root"], consistent_snapshot=True)
    for _ in range(root_keys):
        root.add_key(_new_signer(repo).public_key, "root")
    root.roles["root"].threshold = root_threshold
    root.add_key(_new_signer(repo).public_key, "targets")
    online = _new_signer(repo).public_key
    root.add_key(online, "snapshot")
    root.add_key(online, "timestamp")

    delegations = Delegations(keys={}, roles={})
    for channel in CHANNELS:
        key = _new_signer(repo).public_key
        delegations.keys[key.keyid] = key
        assert delegations.roles is not None
        delegations.roles[channel] = DelegatedRole(
            name=channel, keyids=[key.keyid], threshold=1, terminating=True,
            paths=[f"{channel}/*"])
    mds: dict[str, Metadata[Any]] = {
        "root": Metadata(root),
        "targets": Metadata(Targets(expires=now, delegations=delegations)),
        **{c: Metadata(Targets(expires=now)) for c in CHANNELS},
        "snapshot": Metadata(Snapshot(expires=now, meta={
            f"{r}.json": MetaFile(1) for r in ("targets", *CHANNELS)})),
        "timestamp": Metadata(Timestamp(expires=now, snapshot_meta=MetaFile(1))),
    }
    r = Repo(repo, mds)
    r.write_root()
    for role in ("targets", *CHANNELS, "snapshot", "timestamp"):
        r.write(role, mds[role])
    return {"repo": str(repo), "metadata_url_path": "metadata/",
            "targets_url_path": "targets/", "root": str(repo / "root.json"),
            "channels": list(CHANNELS)}


def parse_version(text: object, where: str) -> tuple[int, int, int]:
    m = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise RepoError(f"{where}: version {text!r} is not MAJOR.MINOR.PATCH")
    return (int(m[1]), int(m[2]), int(m[3]))


def check_channel(channel: str) -> None:
    if channel not in CHANNELS:
        raise RepoError(f"unknown channel {channel!r}; channels: {', '.join(CHANNELS)}",
                        EXIT_USAGE)


def add(repo_dir: Path, name: str, version: str, data: bytes, channel: str = "stable"
        ) -> dict[str, Any]:
    """Publish ``data`` (a packed model package) as CHANNEL/NAME-VERSION.tar."""
    check_channel(channel)
    with _locked(Path(repo_dir)):
        repo = Repo.load(repo_dir)
        role = repo.targets[channel]
        newest = max((parse_version((t.custom or {}).get("version"), t.path)
                      for t in role.signed.targets.values()
                      if (t.custom or {}).get("name") == name), default=None)
        if newest is not None and parse_version(version, name) <= newest:
            raise RepoError(f"{name} {version} is not newer than {name} "
                            f"{'.'.join(map(str, newest))} already in {channel}")
        digest = hashlib.sha256(data).hexdigest()
        target_path = f"{channel}/{name}-{version}.tar"
        out = repo.targets_dir / channel / f"{digest}.{name}-{version}.tar"
        out.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(out, data)
        role.signed.targets[target_path] = TargetFile(
            len(data), {"sha256": digest}, target_path,
            {"custom": {"name": name, "version": version}})
        repo.bump(channel)
    return {"target": target_path, "file": str(out), "length": len(data), "sha256": digest,
            "name": name, "version": version, "channel": channel,
            "timestamp_version": repo.timestamp.signed.version}


SNAPSHOT_RENEW = timedelta(days=3)


def timestamp(repo_dir: Path) -> dict[str, Any]:
    """A new timestamp (run daily); the snapshot is signed anew too when it
    expires within SNAPSHOT_RENEW, so a repository without new packages for
    a week stays valid.  Both are signed by the online key."""
    with _locked(Path(repo_dir)):
        repo = Repo.load(repo_dir)
        renew = repo.snapshot.signed.expires - _now() <= SNAPSHOT_RENEW
        if renew:
            repo.bump("snapshot")
        else:
            repo.bump_timestamp()
    ts = repo.timestamp.signed
    return {"timestamp_version": ts.version, "expires": ts.expires.isoformat(),
            "snapshot_version": ts.snapshot_meta.version, "snapshot_renewed": renew}


def rotate(repo_dir: Path, role: str, key: str = "") -> dict[str, Any]:
    """Replace ROLE's key; for root, one root key (``key``: a key id or its
    start; the first root key when empty), keeping the threshold."""
    if role not in ("root", *ROLES):
        raise RepoError(f"cannot rotate {role!r}; roles: root, {', '.join(ROLES)}",
                        EXIT_USAGE)
    if key and role != "root":
        raise RepoError("--key picks one of several root keys; other roles have one key",
                        EXIT_USAGE)
    with _locked(Path(repo_dir)):
        repo = Repo.load(repo_dir)
        old = [k.keyid for k in repo.role_keys(role)]
        if role == "root":
            old = [_pick_root_key(old, key)]
        new = _new_signer(repo.path).public_key
        previous = Metadata[Root].from_bytes(repo.root.to_bytes())
        if role == "root":
            root = repo.root.signed
            root.add_key(new, "root")
            root.revoke_key(old[0], "root")
            root.version += 1
            repo.write_root(previous)
        elif role in CHANNELS:
            targets = repo.targets["targets"].signed
            for keyid in old:
                targets.revoke_key(keyid, role)
            targets.add_key(new, role)
            repo.bump("targets")  # the delegating role now names the new key
            repo.bump(role)
        else:
            root = repo.root.signed
            root.add_key(new, role)
            for keyid in old:
                root.revoke_key(keyid, role)
            root.version += 1
            repo.write_root(previous)
            if role == "timestamp":
                repo.bump_timestamp()
            else:
                repo.bump("targets" if role == "targets" else "snapshot")
        _remove_unused_keys(repo)
    return {"role": role, "old_keyids": old, "new_keyid": new.keyid,
            "root_version": repo.root.signed.version,
            "timestamp_version": repo.timestamp.signed.version}


def _pick_root_key(keyids: list[str], key: str) -> str:
    if not key:
        return keyids[0]
    found = [k for k in keyids if k.startswith(key.lower())]
    if len(found) != 1:
        raise RepoError(f"{key!r} names {'no' if not found else 'more than one'} root key; "
                        f"root keys: {', '.join(k[:12] for k in keyids)}", EXIT_USAGE)
    return found[0]


def _remove_unused_keys(repo: Repo) -> None:
    used = {k.keyid for r in ("root", *ROLES) for k in repo.role_keys(r)}
    for path in (repo.path / "keys").glob("*.pem"):
        if path.stem not in used:
            path.unlink()
