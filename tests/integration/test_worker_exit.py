"""Worker processes end with their parent: a ``kill -9`` of ``anonymize`` or of
the sync process leaves no worker running on, and no more files written."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, generate_uid

from tests.support.cli import ROOT, run_cli
from tests.support.dicom_factory import mg_dataset

pytestmark = pytest.mark.slow
FILES = 100  # seconds of work for two workers


@pytest.fixture(scope="module")
def slow_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Compressed synthetic mammograms (decoded and encoded again: slow to clean)."""
    src = tmp_path_factory.mktemp("many")
    ds = mg_dataset(rows=512, cols=512)
    pixels = np.random.default_rng(2).integers(80, 120, (512, 512)).astype(np.uint16)
    pixels[80:440, :300] += 2900
    ds.PixelData = pixels.tobytes()
    ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
    for n in range(FILES):
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(src / f"{n:03d}.dcm", enforce_file_format=True)
    return src


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its entry waits to be collected


def _wait(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _kill_and_check(parent: subprocess.Popen, ready, workers_at_least: int = 2) -> set[int]:
    """Wait for ``ready()``, record the workers, kill -9 the parent; the workers left."""
    workers: set[int] = set()
    try:
        assert _wait(lambda: ready() and len(_children(parent.pid)) >= workers_at_least, 120), \
            parent.stderr.read() if parent.poll() is not None else "no workers started"
        workers = _children(parent.pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        _wait(lambda: not any(_alive(w) for w in workers), 5)
        return {w for w in workers if _alive(w)}
    finally:
        for pid in [*workers, parent.pid]:  # never leave a process behind a failed test
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def home(tmp_path, plaintext_keyring) -> Path:
    return tmp_path / "home"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_anonymize_workers_end_with_a_killed_run(home, slow_folder, tmp_path):
    assert run_cli("deid-key", "create", home=home).returncode == 0
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "anonymize",
                            str(slow_folder), str(out)], cwd=ROOT, text=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env={**os.environ, "MAMMODESK_HOME": str(home)})
    left = _kill_and_check(run, lambda: out.exists() and len(_files(out)) >= 2)
    assert left == set(), "workers outlived their parent"
    written = len(_files(out))
    time.sleep(1.5)
    assert len(_files(out)) == written < FILES  # nothing more appears


def test_staging_workers_end_with_a_killed_sync(slow_folder, tmp_path):
    script = textwrap.dedent(f"""
        from pathlib import Path
        from sync.deid.keys import SiteKeys
        from sync.deid.profile import profile_from_settings
        from sync.stage_pool import PreparePool
        pool = PreparePool(profile_from_settings({{}}), SiteKeys(b"s" * 32, b"m" * 32), 2)
        for n, _ in enumerate(pool.map(sorted(Path({str(slow_folder)!r}).glob("*.dcm")))):
            Path({str(tmp_path / "progress")!r}).write_text(str(n))
    """)
    sync = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    left = _kill_and_check(sync, lambda: (tmp_path / "progress").exists())
    assert left == set(), "staging workers outlived the sync process"


def test_the_ai_worker_ends_with_a_killed_window(tmp_path):
    """The window's AI process (started as ui/context.py starts it) dies with it."""
    ready = tmp_path / "ready"
    script = textwrap.dedent(f"""
        import multiprocessing, time
        from concurrent.futures import ProcessPoolExecutor
        from pathlib import Path
        from engine.ai import worker
        from engine.parent_watch import this_process
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=worker.init,
                                   initargs=({str(tmp_path / "models")!r}, "auto", this_process()))
        pool.submit(time.sleep, 0).result()
        Path({str(ready)!r}).write_text("up")
        time.sleep(120)
    """)
    window = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    decoders: set[int] = set()  # the AI worker's own workers (engine.ai.prepare_pool)

    def up() -> bool:
        decoders.update(d for w in _children(window.pid) for d in _children(w))
        return ready.exists() and bool(decoders)

    try:
        left = _kill_and_check(window, up, workers_at_least=1)
        assert left == set(), "the AI worker outlived the window"
        _wait(lambda: not any(_alive(d) for d in decoders), 5)
        assert not [d for d in decoders if _alive(d)], "its decoding workers outlived the window"
    finally:
        for pid in decoders:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
