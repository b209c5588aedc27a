"""MammoDesk as hospital IT installs it: a wheel built from the tree, installed
into a fresh virtual environment outside the checkout, run by its console
script.

The wheel is built from a copy of the tree (so the checkout gets no build
folders) with the test environment's setuptools, offline.  Its dependencies
are not downloaded again: a ``.pth`` file gives the new environment the
test environment's site-packages, which hold the dependencies and no MammoDesk
code (the checkout's editable-install hook lives in a ``.pth`` there, and
``.pth`` files of a folder added that way are not run).  A second ``.pth``
hides the ``train`` extra (TensorFlow, Keras, tf2onnx, onnx), so the
installation is the workstation's ``pip install .``.  Every command runs from a
folder outside the checkout, without PYTHONPATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pydicom
import pytest

from tests.support.cli import ROOT

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "README.md", "main.py", "engine", "sync", "ui", "resources")
TRAIN_EXTRA = ("tensorflow", "keras", "tf2onnx", "onnx")
EXTRA_LINE = 'pip install "mammodesk[train]"'
SHIPPED = ("resources/models/mammodesk-phantom/model.onnx", "resources/deid/annex_e_2024b.json",
           "resources/acceptance/set.json")
HIDE_TRAIN_EXTRA = f'''"""Hides the train extra: this environment is a workstation install."""
import sys

HIDDEN = {set(TRAIN_EXTRA)!r}


class HideTrainExtra:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name.partition(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, HideTrainExtra)
'''
PROBE = """
import json, sys
import engine, main, resources, sync, ui
from engine.resources import builtin_model_dir, deid_table_path
print(json.dumps({
    "files": {m.__name__: m.__file__ for m in (engine, main, resources, sync, ui)},
    "path": sys.path,
    "meta_path": [repr(f) for f in sys.meta_path],
    "model": str(builtin_model_dir()),
    "table": str(deid_table_path()),
}))
"""


@dataclass
class Installed:
    venv: Path
    site: Path  # the new environment's site-packages
    deps: list[Path]  # the test environment's site-packages, for the dependencies
    wheel: Path
    cwd: Path  # outside the checkout

    def run(self, *args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
        env = {**os.environ, "MAMMODESK_HOME": str(home), "PYTHONNOUSERSITE": "1"}
        for name in ("PYTHONPATH", "PYTHONHOME", "DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
            env.pop(name, None)
        done = subprocess.run([str(self.venv / "bin" / args[0]), *args[1:]], cwd=self.cwd,
                              env=env, capture_output=True, text=True, timeout=timeout)
        assert "Traceback" not in done.stderr, done.stderr
        return done


def _build_wheel(src_root: Path, work: Path) -> Path:
    src = work / "src"
    for name in SOURCES:
        if (src_root / name).is_dir():
            shutil.copytree(src_root / name, src / name, ignore=shutil.ignore_patterns(
                "__pycache__", "*.pyc", "*.egg-info"))
        else:
            src.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src_root / name, src / name)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "-q", "-w", str(work / "dist"), str(src)],
        cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (work / "dist").glob("mammodesk-*.whl")
    return wheel


def install(src_root: Path, work: Path) -> Installed:
    """Build a wheel of ``src_root`` and install it into a new environment under ``work``."""
    wheel = _build_wheel(src_root, work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    deps = sorted({Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")})
    (site / "mammodesk_test_deps.pth").write_text("".join(f"{d}\n" for d in deps))
    (site / "hide_train_extra.py").write_text(HIDE_TRAIN_EXTRA)
    (site / "hide_train_extra.pth").write_text("import hide_train_extra\n")
    cwd = work / "cwd"
    cwd.mkdir()
    return Installed(venv, site, deps, wheel, cwd)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    return install(ROOT, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def demo(installed: Installed, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    home = tmp_path_factory.mktemp("wheel_home")
    done = installed.run("mammodesk", "demo", "--headless", "--json", home=home, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return home, json.loads(done.stdout)


def _within(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def test_the_wheel_ships_the_model_and_the_table_and_keeps_training_an_extra(installed):
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
        (meta,) = (n for n in names if n.endswith(".dist-info/METADATA"))
        requires = [line.split(":", 1)[1].strip() for line in
                    whl.read(meta).decode().splitlines() if line.startswith("Requires-Dist:")]
    for shipped in SHIPPED:
        assert shipped in names

    def project(requirement: str) -> str:
        return re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()

    runtime = {project(r) for r in requires if "extra ==" not in r}
    train = {project(r) for r in requires if 'extra == "train"' in r}
    assert "onnxruntime" in runtime and "matplotlib" in runtime
    assert train == {"tensorflow-cpu", "tf2onnx", "onnx"}
    assert not train & runtime


def test_the_installed_package_is_what_runs(installed):
    done = subprocess.run([str(installed.venv / "bin" / "python"), "-c", PROBE],
                          cwd=installed.cwd, capture_output=True, text=True, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout)
    assert not _within(installed.venv, ROOT) and not _within(installed.cwd, ROOT)
    for name, file in probe["files"].items():
        assert _within(Path(file), installed.site), (name, file)
    assert _within(Path(probe["model"]), installed.site)
    assert _within(Path(probe["table"]), installed.site)
    assert not any("editable" in finder.lower() for finder in probe["meta_path"])
    for entry in filter(None, probe["path"]):
        if _within(Path(entry), ROOT):  # only the dependencies' folder, no MammoDesk code
            assert Path(entry).resolve() in {d.resolve() for d in installed.deps}, entry
    for dep in installed.deps:
        for name in ("engine", "sync", "ui", "resources", "main.py"):
            assert not (dep / name).exists(), dep / name


def test_demo_reports_an_ai_result_on_onnx_runtime(demo):
    _home, report = demo
    ai = report["ai"]
    assert ai["status"] == "done", ai
    assert ai["exam_score"] is not None
    assert "not for clinical use" in ai["notice"].lower()
    assert ai["backend"] == "onnxruntime"


def test_anonymize_with_the_shipped_table(installed, demo, plaintext_keyring, tmp_path):
    home, _report = demo
    source = sorted((home / "demo").rglob("*.dcm"))[0]
    name = str(pydicom.dcmread(source, stop_before_pixels=True).PatientName)
    assert name
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy2(source, src / source.name)
    assert installed.run("mammodesk", "deid-key", "create", home=home).returncode == 0
    out = tmp_path / "out"
    done = installed.run("mammodesk", "anonymize", str(src), str(out), home=home)
    assert done.returncode == 0, done.stderr
    (written,) = [p for p in out.rglob("*") if p.is_file()]
    data = written.read_bytes()
    for part in name.replace("^", " ").split():
        assert part.encode() not in data, part


def test_tensorflow_without_the_train_extra_is_one_line_naming_it(installed, demo):
    home, report = demo
    labels = next((home / "demo").rglob("labels.csv"))
    for args in (("analyze", report["study"]["study_uid"], "--backend", "tensorflow"),
                 ("train", str(labels), "--out", str(installed.cwd / "run"))):
        done = installed.run("mammodesk", *args, home=home)
        assert done.returncode == 2, done.stderr
        errors = [line for line in done.stderr.splitlines() if "error" in line]
        assert len(errors) == 1 and EXTRA_LINE in errors[0], done.stderr
