"""Model packages: verification, installation, activation and fallback (dummy files, no TF)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest

from engine.ai.package import (
    ModelPackage,
    ModelPackageError,
    activate,
    active_package,
    install_package,
    list_packages,
    parse_version,
    read_package,
    write_manifest,
)
from engine.errors import MammoDeskError
from tests.support.model_packages import base_manifest, make_package


def edit_manifest(folder: Path, **changes: object) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(changes)
    path.write_text(json.dumps(manifest))


def refusal(folder: Path, app_version: str | None = None) -> str:
    with pytest.raises(ModelPackageError) as info:
        read_package(folder, app_version)
    message = str(info.value)
    assert message.startswith("model package refused: ")
    assert "\n" not in message
    return message


@pytest.fixture
def pkg_dir(tmp_path: Path) -> Path:
    return make_package(tmp_path / "src")


def test_written_package_reads_back(pkg_dir: Path) -> None:
    pkg = read_package(pkg_dir)
    assert pkg.describe() == "demo 1.0.0"
    assert (pkg.name, pkg.version) == ("demo", "1.0.0")
    assert pkg.keras_path == pkg_dir / "model.keras"
    assert pkg.onnx_path == pkg_dir / "model.onnx"
    assert pkg.card_path.read_text().startswith("# demo 1.0.0")
    assert set(pkg.manifest["files"]) == {
        "model.keras",
        "model.onnx",
        "MODEL_CARD.md",
        "evaluation.json",
        "plots/roc.png",
    }
    digest = hashlib.sha256((pkg_dir / "plots" / "roc.png").read_bytes()).hexdigest()
    assert pkg.manifest["files"]["plots/roc.png"] == digest
    assert pkg.manifest["format"] == "mammodesk-model"
    assert pkg.manifest["format_version"] == 1
    # The atomic write leaves nothing behind but the manifest itself.
    assert sorted(p.name for p in pkg_dir.iterdir()) == [
        "MODEL_CARD.md",
        "evaluation.json",
        "manifest.json",
        "model.keras",
        "model.onnx",
        "plots",
    ]


def test_package_without_onnx(tmp_path: Path) -> None:
    pkg = read_package(make_package(tmp_path / "p", onnx=False))
    assert pkg.onnx_path is None


def test_large_file_is_hashed_in_full(pkg_dir: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 12345)
    (pkg_dir / "model.keras").write_bytes(data)
    manifest = write_manifest(pkg_dir, json.loads((pkg_dir / "manifest.json").read_text()))
    assert manifest["files"]["model.keras"] == hashlib.sha256(data).hexdigest()
    assert read_package(pkg_dir).keras_path.stat().st_size == len(data)


def test_flipped_byte_names_the_file(pkg_dir: Path) -> None:
    path = pkg_dir / "model.keras"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    message = refusal(pkg_dir)
    assert "model.keras does not match its sha256 in the manifest" in message


def test_missing_file_refused(pkg_dir: Path) -> None:
    (pkg_dir / "plots" / "roc.png").unlink()
    assert "plots/roc.png is listed in the manifest but missing" in refusal(pkg_dir)


def test_extra_file_refused(pkg_dir: Path) -> None:
    (pkg_dir / "plots" / "unexpected.py").write_text("print('hi')")
    assert "plots/unexpected.py is in the package folder but not listed" in refusal(pkg_dir)


@pytest.mark.parametrize("bad", ["../x", "plots/../../x", "/etc/passwd", "C:/x", "a\\..\\x"])
def test_path_escaping_the_folder_refused(tmp_path: Path, bad: str) -> None:
    folder = make_package(tmp_path / "p" / "pkg")
    (tmp_path / "p" / "x").write_text("outside")
    files = json.loads((folder / "manifest.json").read_text())["files"]
    files[bad] = hashlib.sha256(b"outside").hexdigest()
    edit_manifest(folder, files=files)
    assert "escapes the package folder" in refusal(folder)


def test_symlink_refused_even_when_hash_matches(pkg_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.keras"
    outside.write_bytes((pkg_dir / "model.keras").read_bytes())
    (pkg_dir / "model.keras").unlink()
    (pkg_dir / "model.keras").symlink_to(outside)
    assert "model.keras is a symbolic link" in refusal(pkg_dir)


def test_newer_format_asks_for_update(pkg_dir: Path) -> None:
    edit_manifest(pkg_dir, format_version=2, some_future_key={"x": 1})
    assert refusal(pkg_dir).endswith(
        "model package format 2 is newer than this MammoDesk supports (1); update MammoDesk"
    )


def test_package_for_newer_app_refused(pkg_dir: Path) -> None:
    edit_manifest(pkg_dir, min_app_version="0.3.0")
    message = refusal(pkg_dir, app_version="0.2.9")
    assert "needs MammoDesk 0.3.0 or newer (this is 0.2.9)" in message
    assert read_package(pkg_dir, app_version="0.3.0").version == "1.0.0"
    edit_manifest(pkg_dir, min_app_version="99.0.0")
    assert "needs MammoDesk 99.0.0" in refusal(pkg_dir)  # the running app's own version


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"format": "something-else"}, "not a MammoDesk model manifest"),
        ({"name": "Demo Model"}, "may only hold a-z"),
        ({"version": "1.0"}, "MAJOR.MINOR.PATCH"),
        ({"min_app_version": "latest"}, "MAJOR.MINOR.PATCH"),
        ({"created": "last tuesday"}, "not an ISO 8601 time"),
        ({"entry": {"keras": "other.keras", "onnx": None}}, "entry.keras"),
        ({"notice": ""}, "'notice'"),
        ({"operating_points": {"balanced": 1.5}}, "operating point 'balanced'"),
        ({"metrics": None}, "'metrics'"),
    ],
)
def test_malformed_manifest_refused(pkg_dir: Path, changes: dict, expected: str) -> None:
    edit_manifest(pkg_dir, **changes)
    assert expected in refusal(pkg_dir)


def test_unknown_extra_keys_allowed(pkg_dir: Path) -> None:
    edit_manifest(pkg_dir, signed_by="release team", calibration={"method": "platt"})
    assert read_package(pkg_dir).manifest["signed_by"] == "release team"


def test_write_manifest_refuses_a_bad_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="may only hold a-z"):
        make_package(tmp_path / "p", name="Bad_Name")
    assert not (tmp_path / "p" / "manifest.json").exists()


def test_parse_version() -> None:
    assert parse_version("1.10.2") == (1, 10, 2)
    assert parse_version("1.10.0") > parse_version("1.9.9")
    for bad in ["1.2", "1.2.3.4", "v1.2.3", "01.2.3", "1.2.3-rc1", ""]:
        with pytest.raises(ModelPackageError):
            parse_version(bad)
    assert issubclass(ModelPackageError, MammoDeskError)


def test_install_then_active(tmp_path: Path) -> None:
    src = make_package(tmp_path / "src")
    models = tmp_path / "models"
    pkg = install_package(src, models)
    assert pkg.root == models / "demo-1.0.0"
    assert json.loads((models / "active.json").read_text()) == {
        "name": "demo",
        "version": "1.0.0",
        "path": "demo-1.0.0",
    }
    active = active_package(models, builtin=None)
    assert active is not None and active.describe() == "demo 1.0.0"
    assert active.keras_path.read_bytes() == (src / "model.keras").read_bytes()
    assert read_package(src).version == "1.0.0"  # the source is left as it was


def test_newer_version_replaces_and_older_is_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    install_package(make_package(tmp_path / "v1"), models)
    install_package(make_package(tmp_path / "v2", version="1.1.0"), models)
    assert active_package(models, None).version == "1.1.0"
    expected = r"version 1\.0\.1 is not newer than the active 1\.1\.0"
    with pytest.raises(ModelPackageError, match=expected):
        install_package(make_package(tmp_path / "old", version="1.0.1"), models)
    assert active_package(models, None).version == "1.1.0"
    assert not (models / "demo-1.0.1").exists()
    downgraded = install_package(tmp_path / "old", models, allow_downgrade=True)
    assert active_package(models, None) == downgraded
    assert downgraded.version == "1.0.1"


def test_corrupt_package_is_not_installed(tmp_path: Path) -> None:
    models = tmp_path / "models"
    install_package(make_package(tmp_path / "v1"), models)
    bad = make_package(tmp_path / "v2", version="2.0.0")
    (bad / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(ModelPackageError, match=r"model\.onnx does not match its sha256"):
        install_package(bad, models)
    assert active_package(models, None).version == "1.0.0"
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == [
        "active.json",
        "demo-1.0.0",
        "update-log.jsonl",
        "update-log.jsonl.head",
        "update-log.jsonl.lock",
    ]


def test_tampered_active_falls_back_to_builtin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    builtin = make_package(tmp_path / "resources" / "model", name="demo", version="0.9.0")
    models = tmp_path / "models"
    installed = install_package(make_package(tmp_path / "src"), models)
    assert active_package(models, builtin).version == "1.0.0"
    installed.keras_path.write_bytes(b"someone edited the weights")
    with caplog.at_level(logging.WARNING):
        fallback = active_package(models, builtin)
    assert fallback is not None and fallback.root == builtin
    assert "model.keras does not match" in caplog.text
    assert active_package(models, None) is None
    (builtin / "MODEL_CARD.md").write_text("changed")
    assert active_package(models, builtin) is None


def test_missing_or_corrupt_active_json_means_builtin(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    builtin = make_package(tmp_path / "builtin", name="demo", version="0.9.0")
    models = tmp_path / "models"
    assert active_package(models, builtin).root == builtin
    install_package(make_package(tmp_path / "src"), models)
    (models / "active.json").write_text('{"name": "demo", "vers')
    with caplog.at_level(logging.WARNING):
        assert active_package(models, builtin).root == builtin
    assert "active.json" in caplog.text
    (models / "active.json").write_text('{"name": "demo", "version": "1.0.0", "path": "../x"}')
    assert active_package(models, builtin).root == builtin


def test_reinstalling_the_active_version_is_a_no_op(tmp_path: Path) -> None:
    src = make_package(tmp_path / "src")
    models = tmp_path / "models"
    first = install_package(src, models)
    before = sorted(p.name for p in models.iterdir())
    folder_id = first.root.stat().st_ino
    active_written = (models / "active.json").stat().st_mtime_ns
    again = install_package(src, models)
    assert again == first
    assert sorted(p.name for p in models.iterdir()) == before
    # Nothing was copied or re-activated: the same folder and record remain.
    assert first.root.stat().st_ino == folder_id
    assert (models / "active.json").stat().st_mtime_ns == active_written


def test_reinstall_repairs_a_damaged_active_copy(tmp_path: Path) -> None:
    src = make_package(tmp_path / "src")
    models = tmp_path / "models"
    installed = install_package(src, models)
    (installed.root / "evaluation.json").unlink()
    assert active_package(models, None) is None
    repaired = install_package(src, models)
    assert repaired.root == installed.root
    assert active_package(models, None).describe() == "demo 1.0.0"


def test_same_version_with_other_contents_refused(tmp_path: Path) -> None:
    models = tmp_path / "models"
    install_package(make_package(tmp_path / "a"), models)
    other = make_package(tmp_path / "b")
    (other / "model.keras").write_bytes(b"different weights")
    write_manifest(other, base_manifest())
    with pytest.raises(ModelPackageError, match="already installed with different contents"):
        install_package(other, models)
    assert active_package(models, None).keras_path.read_bytes() != b"different weights"


def test_interrupted_install_is_ignored_then_cleaned(tmp_path: Path) -> None:
    models = tmp_path / "models"
    install_package(make_package(tmp_path / "v1"), models)
    leftover = models / ".installing-demo-2.0.0-0badf00d"
    leftover.mkdir()
    (leftover / "model.keras").write_bytes(b"half a file")
    assert active_package(models, None).version == "1.0.0"
    assert [p.describe() for p in list_packages(models)] == ["demo 1.0.0"]
    install_package(make_package(tmp_path / "v2", version="2.0.0"), models)
    assert not leftover.exists()
    assert not list(models.glob(".installing-*"))
    assert active_package(models, None).version == "2.0.0"


def test_list_packages_reports_invalid_ones(tmp_path: Path) -> None:
    models = tmp_path / "models"
    assert list_packages(models) == []
    install_package(make_package(tmp_path / "v1"), models)
    install_package(make_package(tmp_path / "v2", version="1.2.0"), models)
    (models / "demo-1.0.0" / "model.keras").write_bytes(b"tampered")
    (models / "stray-folder").mkdir()
    listed = list_packages(models)
    assert [type(item).__name__ for item in listed] == ["tuple", "ModelPackage", "tuple"]
    assert listed[0][0] == models / "demo-1.0.0"
    assert "model.keras does not match" in listed[0][1]
    assert listed[1].describe() == "demo 1.2.0"
    assert "manifest.json is missing" in listed[2][1]


def test_activate_only_installed_packages(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    outside = ModelPackage(make_package(tmp_path / "src"), base_manifest())
    with pytest.raises(ModelPackageError, match="not installed in the models folder"):
        activate(models, outside)
    assert not (models / "active.json").exists()


def test_each_activation_is_in_the_update_log(tmp_path: Path) -> None:
    from engine.ai import update_log

    models = tmp_path / "models"
    install_package(make_package(tmp_path / "v1"), models)
    install_package(make_package(tmp_path / "v2", version="1.1.0"), models)
    install_package(tmp_path / "v2", models)  # already active: nothing changes, nothing logged
    log = update_log.log_path(models)
    assert update_log.verify(log).ok
    done = [(e.event, e.details["version"], e.details["previous"])
            for e in update_log.entries(log)]
    assert done == [("activated", "1.0.0", None), ("activated", "1.1.0", "1.0.0")]


def test_a_damaged_update_log_stops_the_switch(tmp_path: Path) -> None:
    from engine.ai import update_log

    models = tmp_path / "models"
    install_package(make_package(tmp_path / "v1"), models)
    log = update_log.log_path(models)
    log.write_text(log.read_text().replace("1.0.0", "0.0.1"))
    with pytest.raises(update_log.UpdateLogDamaged):
        install_package(make_package(tmp_path / "v2", version="1.1.0"), models)
    assert active_package(models, None).version == "1.0.0"
