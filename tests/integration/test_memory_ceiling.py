"""No small hostile input drives import, analyze or anonymize past 1.5 GB or into a hang.

Each command runs as a subprocess on one hostile input: a 4 KB JPEG 2000 claiming 65535 x
65535, a ZIP holding one 1 GiB member of zeros, a 1 GB sparse file, a link to /dev/zero and
a FIFO.  The peak resident memory of the command and every process it started (wait4's
rusage covers the children it reaped) must stay under 1.5 GB, and it must finish promptly
with its reason on one line, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import pytest
from pydicom.uid import JPEG2000Lossless

from tests.support.cli import ROOT
from tests.support.codestreams import encapsulated_image, j2k_claiming
from tests.support.dicom_factory import mg_dataset, to_bytes

pytestmark = pytest.mark.slow

CEILING_MB = 1500
PROMPT_S = 120  # start-up, the model loading, the work: a hang is killed here
GIB = 1 << 30


def run_measured(*args: str, home: Path, env: dict[str, str] | None = None,
                 timeout: float = PROMPT_S) -> tuple[int, str, str, float, float]:
    """(exit code, stdout, stderr, peak RSS in MB of the process tree, seconds)."""
    environment = {**os.environ, "MAMMODESK_HOME": str(home), **(env or {})}
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        environment.pop(name, None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(list(args), cwd=ROOT, env=environment, stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            # wait4, not RUSAGE_CHILDREN: this child's own figure, which includes every
            # descendant it waited for (worker processes among them).
            _pid, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_maxrss / 1024, seconds)


def test_the_measure_includes_grandchildren(tmp_path):
    grandchild = "b = b'x' * (300 * 1024 * 1024); print(len(b))"
    child = ("import subprocess, sys; "
             f"subprocess.run([sys.executable, '-c', {grandchild!r}], check=True)")
    code, _out, _err, peak, _s = run_measured(sys.executable, "-c", child, home=tmp_path)
    assert code == 0
    assert peak >= 300


def _hostile(kind: str, folder: Path) -> Path:
    """The hostile input ``kind`` inside ``folder`` (a folder to hand to the command)."""
    folder.mkdir(parents=True)
    if kind == "j2k_65535":
        ds = encapsulated_image([j2k_claiming(65535, 65535)], JPEG2000Lossless, 65535, 65535)
        ds.ImageLaterality, ds.ViewPosition = "R", "CC"  # a view the model would read
        ds.ImagerPixelSpacing = [0.07, 0.07]
        data = to_bytes(ds)
        assert len(data) < 8192
        (folder / "huge.dcm").write_bytes(data)
    elif kind == "zip_1gib_zeros":
        with zipfile.ZipFile(folder / "bomb.zip", "w", zipfile.ZIP_DEFLATED,
                             compresslevel=1) as zf, \
                zf.open("IMG0001.dcm", "w", force_zip64=True) as member:
            member.write(to_bytes(mg_dataset())[:132])
            chunk = b"\x00" * (1 << 24)
            for _ in range(GIB >> 24):
                member.write(chunk)
        assert (folder / "bomb.zip").stat().st_size < 8 << 20
    elif kind == "sparse_1gb":
        with open(folder / "sparse.dcm", "wb") as fh:
            fh.truncate(GIB)
        with open(folder / "sparse-dicm.dcm", "wb") as fh:
            fh.write(to_bytes(mg_dataset())[:132])
            fh.truncate(GIB)
    elif kind == "dev_zero_link":
        (folder / "zero.dcm").symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(folder / "pipe.dcm")
    return folder


# What each command must say about each input (None: nothing to name, e.g. a skipped file).
REASONS = {
    "j2k_65535": "image too large: 65535 x 65535 exceeds the 120-megapixel limit",
    "zip_1gib_zeros": "ZIP member too large: 1074 MB exceeds the 512 MB limit",
    "sparse_1gb": "file too large: 1074 MB exceeds the 512 MB limit for one file",
    "dev_zero_link": "not a regular file (character device)",
    "fifo": "not a regular file (FIFO)",
}
KINDS = list(REASONS)


@pytest.fixture
def keyring_home(tmp_path, plaintext_keyring) -> Path:
    """A home with a site de-identification key in a file keyring."""
    home = tmp_path / "home"
    code, _out, err, _peak, _s = run_measured(sys.executable, str(ROOT / "main.py"),
                                              "deid-key", "create", home=home)
    assert code == 0, err
    return home


def _check(code: int, out: str, err: str, peak: float, seconds: float) -> None:
    print(f"exit {code}, peak {peak:.0f} MB, {seconds:.1f} s")  # figures for the record
    assert "Traceback" not in err + out, err
    assert code not in (-9, 137), f"killed after {seconds:.0f} s: it hangs"
    assert peak < CEILING_MB, f"peak {peak:.0f} MB"
    assert len(err.strip().splitlines()) <= 1, err


@pytest.mark.parametrize("kind", KINDS)
def test_import_refuses_hostile_input_promptly_and_small(kind, tmp_path):
    folder = _hostile(kind, tmp_path / "in")
    home = tmp_path / "home"
    code, out, err, peak, seconds = run_measured(
        sys.executable, str(ROOT / "main.py"), "import", str(folder), home=home)
    _check(code, out, err, peak, seconds)
    assert REASONS[kind] in out, out
    assert "imported 0 file(s)" in out


@pytest.mark.parametrize("kind", KINDS)
def test_analyze_refuses_hostile_input_promptly_and_small(kind, tmp_path):
    folder = _hostile(kind, tmp_path / "in")
    home = tmp_path / "home"
    code, out, err, peak, seconds = run_measured(
        sys.executable, str(ROOT / "main.py"), "analyze", str(folder), home=home)
    _check(code, out, err, peak, seconds)
    assert REASONS[kind] in out + err, out + err


@pytest.mark.parametrize("kind", KINDS)
def test_anonymize_survives_hostile_input_promptly_and_small(kind, tmp_path, keyring_home):
    folder = _hostile(kind, tmp_path / "in")
    code, out, err, peak, seconds = run_measured(
        sys.executable, str(ROOT / "main.py"), "anonymize", str(folder),
        str(tmp_path / "out"), home=keyring_home)
    _check(code, out, err, peak, seconds)
