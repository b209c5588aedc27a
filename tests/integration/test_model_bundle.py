"""Model updates on a USB stick: a bundle exported from a served TUF repository
and imported on a workstation that has no network."""

from __future__ import annotations

import errno
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_errors

from engine.ai import update_log
from engine.ai.package import active_package, install_package
from engine.paths import AppPaths, app_paths
from engine.settings import Settings
from sync.model_updates import bundle as bundles
from sync.model_updates import bundle_import
from sync.model_updates.client import check
from sync.model_updates.errors import ModelRepoRejected, ModelUpdateConfigError, ModelUpdateError
from tests.support.cli import run_cli
from tests.support.model_bundles import expire_timestamp, packed, repo_lib
from tests.support.model_packages import make_package
from tests.support.static_server import serve_folder


@dataclass
class Site:
    repo: Path
    office: AppPaths  # connected: exports
    clinic: AppPaths  # offline: imports; demo 1.0.0 active
    tmp: Path

    def add(self, version: str, channel: str = "stable") -> dict:
        return repo_lib.add(self.repo, "demo", version,
                           packed(self.tmp / version, "demo", version), channel)

    def export(self, name: str) -> Path:
        out = self.tmp / "stick" / name
        bundles.export_bundle(self.office, Settings(self.office.config).all(), out)
        return out

    def import_(self, stick: Path, grace: int = 0) -> bundles.ImportResult:
        return bundle_import.import_bundle(self.clinic, Settings(self.clinic.config).all(),
                                           stick, grace)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    repo = tmp_path / "repo"
    repo_lib.init(repo)
    office, clinic = app_paths(tmp_path / "office"), app_paths(tmp_path / "clinic")
    install_package(make_package(tmp_path / "v1", "demo", "1.0.0"), clinic.models)
    (tmp_path / "stick").mkdir()
    Settings(clinic.config).update({"models.url": f"http://127.0.0.1:{unused_port()}/",
                                    "models.root": str(repo / "root.json"),
                                    "cloud.dev_plain_http": "yes"})
    root_v1 = tmp_path / "root-v1.json"  # what IT installed at the clinic
    root_v1.write_bytes((repo / "root.json").read_bytes())
    Settings(clinic.config).update({"models.root": str(root_v1)})
    with serve_folder(repo) as base:
        Settings(office.config).update({"models.url": base,
                                        "models.root": str(repo / "root.json"),
                                        "cloud.dev_plain_http": "yes"})
        yield Site(repo, office, clinic, tmp_path)


def cut_the_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """From now on, record (and refuse) every attempt to open a connection."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(errno.ENETUNREACH, "no network in this clinic")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def events(paths: AppPaths) -> list[update_log.Entry]:
    return update_log.entries(update_log.log_path(paths.models))


def assert_nothing_staged(paths: AppPaths) -> None:
    cands = paths.models / ".candidates"
    assert not cands.exists() or list(cands.iterdir()) == []
    pkg = active_package(paths.models, None)
    assert pkg is not None and pkg.version == "1.0.0"


def test_bundle_exported_online_is_imported_offline_as_a_candidate(
        site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    added = site.add("1.1.0")
    site.add("1.2.0", "pilot")
    repo_lib.rotate(site.repo, "timestamp")  # root v2: the clinic still trusts v1
    stick = site.export("bundle")
    facts = json.loads((stick / "bundle.json").read_text())
    assert facts["channel"] == "stable" and facts["url"].startswith("http://127.0.0.1:")
    assert [p["version"] for p in facts["packages"]] == ["1.1.0"]
    assert {p.name for p in (stick / "metadata").glob("*.root.json")} == {
        "1.root.json", "2.root.json"}
    assert (stick / "targets" / "stable" / f"{added['sha256']}.demo-1.1.0.tar").is_file()
    assert not (stick / "targets" / "pilot").exists()
    assert not list((site.tmp / "stick").glob(".*"))

    attempts = cut_the_network(monkeypatch)
    result = site.import_(stick)
    assert attempts == []
    assert result.fetched and result.candidate == "1.1.0" and result.active == "1.0.0"
    assert not result.warnings and "not active" in result.reason
    assert (site.clinic.models / ".candidates" / "demo-1.1.0" / "model.keras").is_file()
    pkg = active_package(site.clinic.models, None)
    assert pkg is not None and pkg.version == "1.0.0"
    log = events(site.clinic)
    assert [e.event for e in log][-3:] == ["fetched", "verified", "imported_bundle"]
    entry = log[-1].details
    assert entry["version"] == "1.1.0" and entry["bundle_made"] == facts["made"]
    assert entry["source"] == "bundle" and entry["warnings"] == []
    text = update_log.log_path(site.clinic.models).read_text()
    assert str(stick) not in text and "stick" not in text

    again = site.import_(stick)
    assert not again.fetched and "nothing newer" in again.reason
    assert [e.event for e in events(site.clinic)][-1] == "imported_bundle"


def test_older_bundle_is_refused_as_a_rollback(site: Site) -> None:
    site.add("1.1.0")
    old = site.export("old")
    site.add("1.2.0")
    new = site.export("new")
    assert site.import_(new).candidate == "1.2.0"
    with pytest.raises(ModelRepoRejected, match="older than the metadata this workstation"):
        site.import_(old)
    assert sorted(p.name for p in (site.clinic.models / ".candidates").iterdir()) == [
        "demo-1.2.0"]
    assert events(site.clinic)[-1].event == "check_failed"


@pytest.mark.parametrize("damage", ["package", "channel metadata"])
def test_tampered_bundle_is_refused_and_nothing_is_staged(site: Site, damage: str) -> None:
    added = site.add("1.1.0")
    stick = site.export("bundle")
    if damage == "package":
        path = stick / "targets" / "stable" / f"{added['sha256']}.demo-1.1.0.tar"
        data = bytearray(path.read_bytes())
        data[600] ^= 1
        path.write_bytes(bytes(data))
        expected = "hash"
    else:
        path = max((stick / "metadata").glob("*.stable.json"))
        path.write_text(path.read_text().replace('"1.1.0"', '"1.1.1"'))
        expected = "not properly signed"
    with pytest.raises(ModelRepoRejected, match=expected) as caught:
        site.import_(stick)
    assert len(str(caught.value).splitlines()) == 1
    assert_nothing_staged(site.clinic)
    assert events(site.clinic)[-1].event == "check_failed"
    assert update_log.verify(update_log.log_path(site.clinic.models)).ok


@pytest.mark.parametrize("grace", [0, 2, 5])
def test_expired_timestamp_needs_a_grace_and_gets_a_warning(site: Site, grace: int) -> None:
    site.add("1.1.0")
    stick = site.export("bundle")
    expire_timestamp(site.repo, stick, timedelta(days=3) - timedelta(hours=1))
    if grace < 3:
        with pytest.raises(ModelRepoRejected, match="expired 3 days ago") as caught:
            site.import_(stick, grace)
        assert "bundle_grace_days" in str(caught.value)
        assert_nothing_staged(site.clinic)
        return
    result = site.import_(stick, grace)
    assert result.candidate == "1.1.0" and result.fetched
    assert len(result.warnings) == 1 and "timestamp metadata expired 3 days ago" in \
        result.warnings[0]
    entry = events(site.clinic)[-1]
    assert entry.event == "imported_bundle" and entry.details["warnings"] == list(
        result.warnings)


def test_grace_days_setting_defaults_to_none_and_is_checked() -> None:
    assert bundles.grace_days({}) == 0
    assert bundles.grace_days({"models.bundle_grace_days": "14"}) == 14
    for bad in ("-1", "two", "1.5", "366"):
        with pytest.raises(ModelUpdateConfigError, match=r"models\.bundle_grace_days"):
            bundles.grace_days({"models.bundle_grace_days": bad})


def test_export_refuses_a_folder_that_is_not_empty(site: Site) -> None:
    site.add("1.1.0")
    out = site.tmp / "stick" / "bundle"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"photo")
    with pytest.raises(ModelUpdateConfigError, match="not an empty folder"):
        site.export("bundle")
    assert [p.name for p in out.iterdir()] == ["holiday.jpg"]
    (site.tmp / "stick" / "empty").mkdir()
    assert (site.export("empty") / "bundle.json").is_file()


def test_repository_failing_verification_is_never_written(site: Site) -> None:
    site.add("1.1.0")
    path = max((site.repo / "metadata").glob("*.stable.json"))
    path.write_text(path.read_text().replace('"1.1.0"', '"9.9.9"'))
    with pytest.raises(ModelRepoRejected, match="not properly signed"):
        site.export("bundle")
    assert list((site.tmp / "stick").iterdir()) == []


def test_export_refuses_a_repository_older_than_this_machine_has_seen(site: Site) -> None:
    site.add("1.1.0")
    stale = (site.repo / "metadata" / "timestamp.json").read_bytes()
    site.add("1.2.0")
    check(site.office, Settings(site.office.config).all())  # the office sees the newer state
    (site.repo / "metadata" / "timestamp.json").write_bytes(stale)  # a replayed repository
    with pytest.raises(ModelRepoRejected, match="older"):
        site.export("bundle")
    assert list((site.tmp / "stick").iterdir()) == []


@pytest.mark.parametrize("last", ["timestamp.json", "bundle.json"])
def test_full_disk_during_export_leaves_no_half_bundle(
        site: Site, monkeypatch: pytest.MonkeyPatch, last: str) -> None:
    site.add("1.1.0")
    real_write = bundles._write

    def write(path: Path, data: bytes) -> None:
        if path.name == last:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(bundles, "_write", write)
    with pytest.raises(ModelUpdateError, match="No space left on device") as caught:
        site.export("bundle")
    assert len(str(caught.value).splitlines()) == 1
    assert list((site.tmp / "stick").iterdir()) == []


def test_bundle_paths_cannot_leave_the_bundle(tmp_path: Path) -> None:
    stick = tmp_path / "stick"
    (stick / "metadata").mkdir(parents=True)
    (tmp_path / "secret.json").write_text("{}")
    (stick / "metadata" / "link.json").symlink_to(tmp_path / "secret.json")
    fetcher = bundles.BundleFetcher(stick)
    for url in ("bundle:///metadata/../secret.json", "bundle:///metadata/link.json",
                "bundle:///../secret.json", "file:///etc/passwd",
                "bundle:///metadata//secret.json"):
        with pytest.raises(ModelRepoRejected):
            fetcher.download_bytes(url, 1000)
    with pytest.raises(tuf_errors.DownloadHTTPError):
        fetcher.download_bytes("bundle:///metadata/7.root.json", 1000)
    with pytest.raises(ModelRepoRejected, match=r"lacks metadata/3\.snapshot\.json"):
        fetcher.download_bytes("bundle:///metadata/3.snapshot.json", 1000)


def test_the_command_line_exports_and_imports_a_bundle(site: Site) -> None:
    """`models export-bundle OUT` online, `models import-bundle PATH --json` at the
    clinic: the package arrives as a candidate and goes through acceptance (the
    dummy network files cannot run, so it is refused and stays inactive)."""
    site.add("1.1.0")
    stick = site.tmp / "stick" / "cli"
    done = run_cli("models", "export-bundle", str(stick), home=site.office.config.parent)
    assert done.returncode == 0, done.stderr
    assert "stable channel" in done.stdout and "demo 1.1.0" in done.stdout
    again = run_cli("models", "export-bundle", str(stick), home=site.office.config.parent)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    done = run_cli("models", "import-bundle", str(stick), "--json",
                   home=site.clinic.config.parent)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["candidate"] == "1.1.0" and doc["accepted"] is False and doc["active"] == "1.0.0"
    assert doc["warnings"] == []
    bad = site.tmp / "stick" / "not-a-bundle"
    bad.mkdir()
    done = run_cli("models", "import-bundle", str(bad), home=site.clinic.config.parent)
    assert done.returncode == 1 and "model bundle import failed" in done.stderr
