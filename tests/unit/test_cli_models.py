"""``models audit``: the update log of the installed models as a person and
a script read it, and a changed log is reported (exit 1), never trusted."""

from __future__ import annotations

import json

from engine.ai.package import install_package
from engine.ai.update_log import log_path
from engine.paths import app_paths
from tests.support.cli import run_cli
from tests.support.model_packages import make_package


def test_the_log_lists_each_activation_and_verifies(tmp_path):
    home = tmp_path / "home"
    models = app_paths(home).models
    install_package(make_package(tmp_path / "v1"), models)
    install_package(make_package(tmp_path / "v2", version="1.1.0"), models)
    done = run_cli("models", "audit", "--json", home=home)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verified"] is True and report["entries"] == 2 and report["reason"] is None
    assert [(e["seq"], e["event"], e["details"]["version"]) for e in report["events"]] == [
        (1, "activated", "1.0.0"), (2, "activated", "1.1.0")]
    text = run_cli("models", "audit", home=home)
    assert text.returncode == 0 and "2 entries; the hash chain verifies" in text.stdout


def test_an_edited_log_is_reported_in_one_line(tmp_path):
    home = tmp_path / "home"
    models = app_paths(home).models
    install_package(make_package(tmp_path / "v1"), models)
    install_package(make_package(tmp_path / "v2", version="1.1.0"), models)
    log = log_path(models)
    lines = log.read_text().splitlines(keepends=True)
    log.write_text(lines[0].replace("1.0.0", "0.9.0") + lines[1])
    done = run_cli("models", "audit", "--json", home=home)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["verified"] is False and report["first_bad"] == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert "does not verify" in done.stderr


def test_no_model_installed_is_an_empty_log(tmp_path):
    done = run_cli("models", "audit", "--json", home=tmp_path / "home")
    assert done.returncode == 0
    assert json.loads(done.stdout)["entries"] == 0
