"""What the command line tells a user: study UIDs, defaults, states that are
not errors, refusals in one line, and exit statuses that say what happened."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.support.cli import ROOT, run_cli

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

README_KEYRING = "Keyring on a headless Linux"


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def _study_folder(small_cohort):  # type: ignore[no-untyped-def]
    return next(p.parent for p in small_cohort.files if "prior" not in p.parent.name)


# -- studies ----------------------------------------------------------------------


def test_studies_lists_each_study_uid_and_names_the_ai_scope_column(tmp_path, small_cohort):
    assert run_cli("import", "--no-ai", str(small_cohort.out_dir),
                   home=tmp_path).returncode == 0
    uids = [s["study_uid"] for s in
            json.loads(run_cli("studies", "--json", home=tmp_path).stdout)["studies"]]
    done = run_cli("studies", home=tmp_path)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[-4:] == ["AI", "result", "AI", "scope"]
    assert "study UID" in header
    assert len(rows) == len(uids)
    for uid, row in zip(uids, rows, strict=True):
        assert uid in row.split()
        assert row.endswith(" yes")
        assert " none yet " in row  # imported without the AI: in scope, no result


# -- config -----------------------------------------------------------------------


def test_config_get_of_an_unset_key_prints_its_default(tmp_path):
    for key, default in (("sync.batch_mb", "64"), ("cloud.auth", "basic"),
                         ("deid.profile", "sync"), ("limits.file_mb", "512")):
        done = run_cli("config", "get", key, home=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == default, key
    done = run_cli("config", "get", "library.path", home=tmp_path)
    assert done.stdout.strip() == str(tmp_path / "library")
    doc = json.loads(run_cli("config", "get", "sync.batch_mb", "--json", home=tmp_path).stdout)
    assert doc["value"] == "64" and doc["default"] is True


def test_config_list_shows_every_key_its_value_and_whether_it_is_the_default(tmp_path):
    from engine.settings import KEYS

    assert run_cli("config", "set", "sync.batch_mb", "16", home=tmp_path).returncode == 0
    done = run_cli("config", "list", "--json", home=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = {s["key"]: s for s in json.loads(done.stdout)["settings"]}
    assert list(listed) == list(KEYS)
    assert listed["sync.batch_mb"]["value"] == "16" and not listed["sync.batch_mb"]["default"]
    assert listed["cloud.auth"]["value"] == "basic" and listed["cloud.auth"]["default"]
    text = run_cli("config", "list", home=tmp_path).stdout.splitlines()
    assert len(text) == len(KEYS)
    batch = next(line for line in text if line.startswith("sync.batch_mb "))
    assert batch.split() == ["sync.batch_mb", "16", "set"]
    auth = next(line for line in text if line.startswith("cloud.auth "))
    assert auth.split() == ["cloud.auth", "basic", "default"]


def test_setting_defaults_agree_with_the_code_that_uses_them():
    from engine.dicom.limits import Limits
    from engine.settings import defaults
    from sync.deid.profile import DEFAULT_PROFILE
    from sync.runner import DEFAULT_BATCH_MB

    known = defaults()
    assert float(known["sync.batch_mb"]) == DEFAULT_BATCH_MB
    assert known["deid.profile"] == DEFAULT_PROFILE
    assert float(known["limits.file_mb"]) == Limits().file_mb
    assert float(known["limits.frame_megapixels"]) == Limits().frame_megapixels
    assert float(known["limits.zip_ratio"]) == Limits().zip_ratio


# -- keys and sign-in -----------------------------------------------------------------


def test_deid_key_status_without_a_key_is_a_state_not_an_error(tmp_path, plaintext_keyring):
    done = run_cli("deid-key", "status", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no site key" in done.stdout
    doc = json.loads(run_cli("deid-key", "status", "--json", home=tmp_path).stdout)
    assert doc == {"key": False, "fingerprint": None}
    assert run_cli("deid-key", "create", home=tmp_path).returncode == 0
    doc = json.loads(run_cli("deid-key", "status", "--json", home=tmp_path).stdout)
    assert doc["key"] is True and len(doc["fingerprint"]) == 16


@pytest.mark.parametrize("backend", ["keyring.backends.fail.Keyring",
                                     "keyring.backends.SecretService.Keyring"])
def test_without_a_keyring_the_key_commands_point_to_the_readme(tmp_path, monkeypatch, backend):
    # No Secret Service: none installed (fail), or one with no session bus to reach it.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", backend)
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    assert run_cli("config", "set", "cloud.url", "https://127.0.0.1:9/dicom-web",
                   home=tmp_path).returncode == 0
    for args in (("deid-key", "status"), ("deid-key", "create"),
                 ("login", "--user", "clinic7", "--password-stdin")):
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                              env={**os.environ, "MAMMODESK_HOME": str(tmp_path)},
                              input="a-password\n", capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        line = _one_line(done.stderr)
        assert "no usable system keyring" in line and README_KEYRING in line, line
        assert "a-password" not in done.stderr


def test_a_failed_login_leaves_cloud_user_unset(tmp_path):
    done = run_cli("login", "--user", "zz", "--password-stdin", home=tmp_path)
    assert done.returncode == 2
    assert "no cloud is configured" in _one_line(done.stderr)
    assert run_cli("config", "get", "cloud.user", home=tmp_path).stdout.strip() == ""
    settings = tmp_path / "config" / "settings.json"
    assert not settings.exists() or "zz" not in settings.read_text()


# -- screenshot -----------------------------------------------------------------------


@pytest.mark.slow
def test_screenshot_writes_the_format_its_extension_names(tmp_path, small_cohort):
    study = _study_folder(small_cohort)
    out = tmp_path / "hang.jpg"
    done = run_cli("screenshot", str(study), "--out", str(out), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, not PNG bytes
    assert not list(tmp_path.glob("*.part*"))
    bad = tmp_path / "hang.bmp"
    done = run_cli("screenshot", str(study), "--out", str(bad), home=tmp_path / "home")
    assert done.returncode == 2
    assert ".png" in _one_line(done.stderr) and not bad.exists()


def test_screenshot_of_a_study_without_mammography_views_is_refused(tmp_path):
    from pydicom.data import get_testdata_file

    folder = tmp_path / "ct"
    folder.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), folder / "CT_small.dcm")
    out = tmp_path / "ct.png"
    done = run_cli("screenshot", str(folder), "--out", str(out), home=tmp_path / "home")
    assert done.returncode == 2
    assert "no mammography views" in _one_line(done.stderr)
    assert not out.exists()


# -- folders --------------------------------------------------------------------------


def test_a_home_or_library_that_is_a_file_is_refused_in_one_line(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for args in (("--home", str(a_file)), ("--home", str(a_file / "below")),
                 ("--library", str(a_file))):
        done = run_cli(*args, "studies", home=tmp_path / "home")
        assert done.returncode == 2, args
        line = _one_line(done.stderr)
        assert "is not a folder" in line and "default library" not in line
    done = run_cli("studies", home=a_file)  # MAMMODESK_HOME
    assert done.returncode == 2 and "is not a folder" in _one_line(done.stderr)


# -- import ---------------------------------------------------------------------------


def test_import_names_the_study_on_each_ai_line_and_why_a_partial_one_has_no_score(
        tmp_path, small_cohort):
    one = tmp_path / "one-view"
    one.mkdir()
    shutil.copy(small_cohort.files[0], one / "image.dcm")
    done = run_cli("import", str(one), home=tmp_path / "home")
    assert done.returncode == 0, done.stderr[-2000:]
    (study,) = json.loads(run_cli("studies", "--json", home=tmp_path / "home").stdout
                          )["studies"]
    ai_lines = [line for line in done.stdout.splitlines() if line.startswith("AI:")]
    assert ai_lines == [f"AI: {study['study_uid']}: no exam score: no breast could be assessed"]
    assert "None" not in done.stdout


# -- sync -----------------------------------------------------------------------------


def test_sync_status_without_a_cloud_says_how_to_configure_one(tmp_path):
    done = run_cli("sync", "--status", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no cloud is configured" in done.stdout
    assert "config set cloud.url" in done.stdout
    doc = json.loads(run_cli("sync", "--status", "--json", home=tmp_path).stdout)
    assert doc["cloud_configured"] is False and doc["phase"] == "not running"


# -- exit statuses --------------------------------------------------------------------

_RAISE = """
import sys
from ui.cli.commands import studies
def boom(args, paths):
    {body}
studies.run = boom
from ui.cli import main
sys.exit(main(["studies"]))
"""


@pytest.mark.parametrize(("body", "status", "says"), [
    ("open('/dev/null/x', 'w')", 74, "error: Not a directory"),
    ("raise KeyboardInterrupt", 130, "interrupted"),
    ("raise ValueError('a fault')", 70, "internal error; details are in"),
    ("from engine.errors import MammoDeskError; raise MammoDeskError('bad input')", 2,
     "error: bad input"),
])
def test_each_kind_of_failure_has_its_own_exit_status(tmp_path, body, status, says):
    done = subprocess.run([sys.executable, "-c", _RAISE.format(body=body)], cwd=ROOT,
                          env={**os.environ, "MAMMODESK_HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == status, done.stderr
    assert _one_line(done.stderr).startswith(f"mammodesk: {says}")
    assert "Traceback" not in done.stderr
    if status in (70, 74):
        assert "Traceback" in (tmp_path / "logs" / "mammodesk.log").read_text()


def test_exit_codes_are_named_and_distinct():
    from ui.cli.exit_codes import ExitCode

    assert (ExitCode.OK, ExitCode.PARTIAL, ExitCode.USER_ERROR) == (0, 1, 2)
    assert ExitCode.IO_ERROR not in (ExitCode.USER_ERROR, ExitCode.PARTIAL, ExitCode.OK)
    assert (ExitCode.INTERNAL, ExitCode.INTERRUPTED) == (70, 130)
    assert len({int(code) for code in ExitCode}) == len(ExitCode)


def test_the_command_line_loads_no_qt_until_a_command_needs_it():
    code = ("import sys, main\n"
            "from ui.cli.parser import build_parser\n"
            "build_parser()\n"
            "sys.exit(1 if 'PySide6' in sys.modules else 0)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_every_process_reads_dicom_without_pydicom_value_validation():
    import pydicom.config

    from engine.dicom.config import configure_pydicom

    settings = pydicom.config.settings
    before = settings.reading_validation_mode, settings.writing_validation_mode
    try:
        configure_pydicom()
        assert settings.reading_validation_mode == pydicom.config.IGNORE
        assert settings.writing_validation_mode == pydicom.config.IGNORE
    finally:
        settings.reading_validation_mode, settings.writing_validation_mode = before
