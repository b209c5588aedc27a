"""The command line as a user or an outside check meets it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cli import ROOT, run_cli

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI


def _one_line_error(done) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_studies_on_empty_library(tmp_path):
    done = run_cli("studies", "--json", home=tmp_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["studies"] == []
    assert "empty" in run_cli("studies", home=tmp_path).stdout


def test_import_of_missing_path_is_one_line(tmp_path):
    done = run_cli("import", str(tmp_path / "nowhere"), home=tmp_path)
    assert done.returncode == 2
    assert "no such file or folder" in _one_line_error(done)


def test_phantom_rejects_bad_arguments_in_one_line(tmp_path):
    done = run_cli("phantom", "--out", str(tmp_path / "o"), "--studies", "2",
                   "--cancer-rate", "1.5", home=tmp_path)
    assert done.returncode == 2
    assert "between 0 and 1" in done.stderr
    done = run_cli("phantom", "--out", str(tmp_path / "o"), "--studies", "0", home=tmp_path)
    assert done.returncode == 2


def test_phantom_then_import_then_studies(tmp_path):
    out = tmp_path / "cohort"
    done = run_cli("phantom", "--out", str(out), "--studies", "2", "--seed", "3",
                   "--size", "small", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    made = json.loads(done.stdout)
    assert made["files"] == 8
    done = run_cli("import", str(out), "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 8
    listing = json.loads(run_cli("studies", "--json", home=tmp_path).stdout)
    assert len(listing["studies"]) == 2
    assert all(s["views"] == ["RCC", "LCC", "RMLO", "LMLO"] for s in listing["studies"])
    table = run_cli("studies", home=tmp_path).stdout
    assert "RCC LCC RMLO LMLO" in table
    # everything written stays under MAMMODESK_HOME
    assert (tmp_path / "library" / "library.db").is_file()


def test_import_with_rejections_exits_1_and_lists_reasons(tmp_path, small_cohort):
    bad = tmp_path / "in"
    bad.mkdir()
    data = small_cohort.files[0].read_bytes()
    (bad / "cut.dcm").write_bytes(data[: len(data) // 3])
    (bad / "fine.dcm").write_bytes(small_cohort.files[1].read_bytes())
    done = run_cli("import", str(bad), home=tmp_path)
    assert done.returncode == 1
    assert "imported 1 file(s)" in done.stdout
    rejected = [line for line in done.stdout.splitlines() if line.startswith("rejected:")]
    assert len(rejected) == 1 and "cut.dcm" in rejected[0]
    assert "1 file(s) rejected" in _one_line_error(done)


def test_demo_headless_reports_the_four_views_and_the_ai_result(tmp_path):
    done = run_cli("demo", "--headless", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    demo = json.loads(done.stdout)
    assert demo["study"]["views"] == ["RCC", "LCC", "RMLO", "LMLO"]
    assert demo["prior_study_uid"]
    ai = demo["ai"]
    assert ai["status"] == "done"
    assert "not for clinical use" in ai["notice"].lower()
    assert ai["device"] == "CPU"
    assert 0 <= ai["exam_score"] <= 100 and 1 <= ai["category"] <= 10
    assert set(ai["breasts"]) == {"R", "L"}
    again = json.loads(run_cli("demo", "--headless", "--json", home=tmp_path).stdout)
    assert again["study"]["study_uid"] == demo["study"]["study_uid"]
    assert again["ai"] == ai  # the stored result, not a second analysis
    assert demo["prior_ai"]["status"] == "done"  # the prior has a result too
    assert again["prior_ai"] == demo["prior_ai"]
    studies = json.loads(run_cli("studies", "--json", home=tmp_path).stdout)
    assert "not for clinical use" in studies["ai_model"]["notice"]
    assert "not for clinical use" in run_cli("studies", home=tmp_path).stdout
    listing = studies["studies"]
    assert len(listing) == 2  # current and prior, imported once
    scores = {s["study_uid"]: s["ai_result"]["exam_score"] for s in listing}
    assert scores == {demo["study"]["study_uid"]: ai["exam_score"],
                      demo["prior_study_uid"]: demo["prior_ai"]["exam_score"]}


def test_gui_without_a_display_says_so(tmp_path):
    done = run_cli(home=tmp_path)
    assert done.returncode == 2
    assert "no display to open the window on" in _one_line_error(done)


def test_gui_starts_offscreen_and_its_window_comes_up(tmp_path):
    env = {**os.environ, "MAMMODESK_HOME": str(tmp_path), "QT_QPA_PLATFORM": "offscreen",
           "MAMMODESK_QUIT_WHEN_READY": "1"}
    env.pop("DISPLAY", None)
    done = subprocess.run([sys.executable, str(ROOT / "main.py")], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "window ready" in done.stdout and "Traceback" not in done.stderr


def test_library_location_from_settings_takes_effect(tmp_path):
    from engine.paths import app_paths
    from engine.settings import Settings

    elsewhere = tmp_path / "data-disk" / "library"
    Settings(app_paths(tmp_path / "home").config).update({"library.path": str(elsewhere)})
    done = run_cli("studies", "--json", home=tmp_path / "home")
    assert done.returncode == 0, done.stderr
    assert (elsewhere / "library.db").is_file()
    assert not (tmp_path / "home" / "library" / "library.db").exists()


def test_bad_settings_are_refused_in_one_line(tmp_path):
    from engine.errors import MammoDeskError
    from engine.settings import Settings

    s = Settings(tmp_path)
    for key, value, message in (("cloud.url", "http://x", "only https is allowed"),
                                ("nope", "1", "unknown setting"),
                                ("cloud.ca_bundle", str(tmp_path / "none.pem"), "no CA bundle")):
        try:
            s.update({key: value})
        except MammoDeskError as exc:
            assert message in str(exc) and "\n" not in str(exc)
        else:
            raise AssertionError(f"{key}={value} was accepted")
    assert s.all() == {}
