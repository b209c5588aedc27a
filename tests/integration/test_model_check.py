"""``models check`` against a TUF model repository served on loopback."""

from __future__ import annotations

import io
import json
import socket
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tuf.api.serialization.json import JSONSerializer

from engine.ai import update_log
from engine.ai.package import active_package, install_package
from engine.settings import Settings
from tests.support.cli import run_cli
from tests.support.model_bundles import packed, repo_lib
from tests.support.model_packages import make_package
from tests.support.static_server import serve_folder


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Path, Path, str]]:
    """(home with demo 1.0.0 active, repository folder, served base URL)."""
    home, repo = tmp_path / "home", tmp_path / "repo"
    repo_lib.init(repo)
    install_package(make_package(tmp_path / "v1", "demo", "1.0.0"), home / "models")
    with serve_folder(repo) as base:
        Settings(home / "config").update({"models.url": base,
                                          "models.root": str(repo / "root.json"),
                                          "cloud.dev_plain_http": "yes"})
        yield home, repo, base


def check(home: Path) -> tuple[int, dict[str, Any], str]:
    """Exit status, the JSON answer ({} when it failed) and stderr."""
    done = run_cli("models", "check", "--json", home=home)
    doc = json.loads(done.stdout) if done.returncode == 0 else {}
    return done.returncode, doc, done.stderr


def active_version(home: Path) -> str | None:
    pkg = active_package(home / "models", None)
    return pkg.version if pkg else None


def events(home: Path) -> list[update_log.Entry]:
    return update_log.entries(update_log.log_path(home / "models"))


def assert_nothing_staged(home: Path) -> None:
    cands = home / "models" / ".candidates"
    assert not cands.exists() or not [p for p in cands.iterdir() if p.name.startswith(".")]
    assert not (cands / "demo-1.1.0").exists()
    assert active_version(home) == "1.0.0"


def test_newer_stable_package_is_fetched_verified_kept_as_candidate_not_activated(
        site, tmp_path: Path) -> None:
    home, repo, base = site
    added = repo_lib.add(repo, "demo", "1.1.0", packed(tmp_path, "demo", "1.1.0"))
    code, doc, err = check(home)
    assert code == 0, err
    assert doc["active"] == "1.0.0" and doc["candidate"] == "1.1.0"
    # The dummy network files cannot run: acceptance refuses, and says why.
    assert doc["accepted"] is False and doc["report"]["accepted"] is False
    assert "acceptance could not run" in doc["reason"]
    assert active_version(home) == "1.0.0"
    assert (home / "models" / ".candidates" / "demo-1.1.0" / "model.keras").is_file()
    assert not (home / "models" / "demo-1.1.0").exists()
    log = events(home)
    assert [e.event for e in log][-3:] == ["fetched", "verified", "refused"]
    details = log[-2].details
    assert details["url"] == base and details["target"] == "stable/demo-1.1.0.tar"
    assert details["sha256"] == added["sha256"] and details["version"] == "1.1.0"
    assert details["keyids"]

    code, doc, err = check(home)
    assert code == 0, err
    assert "up to date" not in doc["reason"] and doc["candidate"] == "1.1.0"
    assert doc["accepted"] is False  # the stored verdict; acceptance is not run again
    assert [e.event for e in events(home)][-1] == "refused"

    listing = json.loads(run_cli("models", "list", "--json", home=home).stdout)
    assert listing["active"]["version"] == "1.0.0"
    assert [r["folder"] for r in listing["installed"]] == ["demo-1.0.0"]
    assert [r["folder"] for r in listing["candidates"]] == ["demo-1.1.0"]


@pytest.mark.parametrize("unset", ["models.url", "models.root"])
def test_missing_setting_is_one_line_and_exit_2(site, unset: str) -> None:
    home, _, _ = site
    Settings(home / "config").update({unset: ""})
    done = run_cli("models", "check", home=home)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and unset in done.stderr


def test_server_down_is_offline_exit_3(site) -> None:
    home, _, _ = site
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    Settings(home / "config").update({"models.url": f"http://127.0.0.1:{port}/"})
    code, _, err = check(home)
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1 and "cannot be reached" in err
    assert_nothing_staged(home)


def test_tampered_target_is_refused_and_nothing_is_staged(site, tmp_path: Path) -> None:
    home, repo, _ = site
    added = repo_lib.add(repo, "demo", "1.1.0", packed(tmp_path, "demo", "1.1.0"))
    served = Path(added["file"])
    data = bytearray(served.read_bytes())
    data[600] ^= 1
    served.write_bytes(bytes(data))
    code, _, err = check(home)
    assert code == 1, err
    assert "hash" in err and len(err.strip().splitlines()) == 1
    assert_nothing_staged(home)
    assert events(home)[-1].event == "check_failed"
    assert update_log.verify(update_log.log_path(home / "models")).ok


def test_expired_timestamp_is_refused(site, tmp_path: Path) -> None:
    home, repo, _ = site
    repo_lib.add(repo, "demo", "1.1.0", packed(tmp_path, "demo", "1.1.0"))
    r = repo_lib.Repo.load(repo)
    ts = r.timestamp
    ts.signed.version += 1
    ts.signed.expires = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    r.sign("timestamp", ts)
    (repo / "metadata" / "timestamp.json").write_bytes(ts.to_bytes(JSONSerializer()))
    code, _, err = check(home)
    assert code == 1, err
    assert "expired" in err
    assert_nothing_staged(home)
    assert events(home)[-1].event == "check_failed"


def test_pilot_channel_is_followed_when_configured(site, tmp_path: Path) -> None:
    home, repo, _ = site
    repo_lib.add(repo, "demo", "1.2.0", packed(tmp_path / "p", "demo", "1.2.0"), "pilot")
    code, doc, err = check(home)
    assert code == 0, err
    assert doc["candidate"] is None and "up to date" in doc["reason"]
    Settings(home / "config").update({"models.channel": "pilot"})
    code, doc, err = check(home)
    assert code == 0, err
    assert doc["candidate"] == "1.2.0"
    assert (home / "models" / ".candidates" / "demo-1.2.0").is_dir()
    assert [e.details.get("target") for e in events(home)
            if e.event == "verified"][-1] == "pilot/demo-1.2.0.tar"


def test_signed_archive_with_an_escaping_path_is_refused(site, tmp_path: Path) -> None:
    home, repo, _ = site
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        folder = make_package(tmp_path / "src" / "demo-1.1.0", "demo", "1.1.0")
        tar.add(folder, arcname=folder.name)
        evil = tarfile.TarInfo("demo-1.1.0/../../escaped.txt")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    repo_lib.add(repo, "demo", "1.1.0", buf.getvalue())
    code, _, err = check(home)
    assert code == 1, err
    assert "unsafe path" in err
    assert_nothing_staged(home)
    assert not list(tmp_path.rglob("escaped.txt"))
    assert events(home)[-1].event == "check_failed"


def test_model_settings_are_checked_when_set(tmp_path: Path) -> None:
    done = run_cli("config", "set", "models.root", str(tmp_path / "missing.json"),
                   home=tmp_path)
    assert done.returncode == 2 and "no trusted root file" in done.stderr
    done = run_cli("config", "set", "models.channel", "nightly", home=tmp_path)
    assert done.returncode == 2 and "stable, pilot" in done.stderr
    done = run_cli("config", "set", "models.url", "http://example.org/repo/", home=tmp_path)
    assert done.returncode == 2 and "only https" in done.stderr
    done = run_cli("config", "get", "models.channel", home=tmp_path)
    assert done.stdout.strip() == "stable"
