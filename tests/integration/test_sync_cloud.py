"""Cloud sync against the real reference cloud: nginx (TLS, Basic auth) in
front of Orthanc's DICOMweb plugin, both on loopback (packaging/cloud/).

Every test drives MammoDesk through its command line, as a clinic would,
and checks what the server really stored through Orthanc's own REST API.
"""

from __future__ import annotations

import collections
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.library import Library, import_paths
from engine.library.reads import Read, save_draft, sign
from tests.support.cli import ROOT, assert_library_consistent, run_cli
from tests.support.cloud import LocalCloud
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.sync_progress import wait_for_progress

pytestmark = pytest.mark.slow


class Workstation:
    """A MammoDesk home with its own keyring file, a site key and a library."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def cli(self, *args: str, stdin: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        if stdin is None:
            return run_cli(*args, home=self.home, timeout=timeout)
        env = {**os.environ, "MAMMODESK_HOME": str(self.home)}
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                              input=stdin, capture_output=True, text=True, timeout=timeout)
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def connect(self, cloud: LocalCloud, url: str | None = None) -> None:
        for key, value in (("cloud.url", url or cloud.url), ("cloud.ca_bundle", cloud.ca)):
            assert self.cli("config", "set", key, value).returncode == 0
        done = self.cli("login", "--user", cloud.user, "--password-stdin",
                        stdin=cloud.password + "\n")
        assert done.returncode == 0, done.stderr

    def library(self) -> Library:
        return Library(self.home / "library")

    def out_uids(self) -> list[str]:
        with self.library() as lib:
            return [u for (u,) in lib.conn.execute(
                "SELECT out_sop_uid FROM outbox_items WHERE state = 'confirmed'")]

    def states(self) -> collections.Counter[str]:
        with self.library() as lib:
            return collections.Counter(s for (s,) in lib.conn.execute(
                "SELECT state FROM outbox_items"))


@pytest.fixture
def station(tmp_path, plaintext_keyring) -> Workstation:
    ws = Workstation(tmp_path / "home")
    assert ws.cli("deid-key", "create").returncode == 0
    return ws


def sign_and_queue(ws: Workstation, files: list[Path]) -> list[str]:
    """Import studies, store an AI result and sign a read on each, queue them as signing does."""
    import pydicom

    from engine.ai.store import save_result
    from tests.support.sr import make_result

    with ws.library() as lib:
        import_paths(lib, files)
        uids = [u for (u,) in lib.conn.execute("SELECT study_uid FROM studies ORDER BY 1")]
        for uid in uids:
            headers = [pydicom.dcmread(lib.file_path(rel), stop_before_pixels=True)
                       for (rel,) in lib.conn.execute(
                           "SELECT rel_path FROM instances WHERE study_uid = ?", (uid,))]
            save_result(lib, make_result(headers))
            save_draft(lib, uid, "Dr Example Reader",
                       Read(birads={"R": "1", "L": "2"}, density={"R": "b", "L": "b"},
                            recommendation="routine",
                            impression="Routine recall for Ms Example."))
            sign(lib, uid, "Dr Example Reader")  # signing queues the study
    return uids


def assert_exactly_once(ws: Workstation, cloud: LocalCloud) -> None:
    stored = cloud.instance_uids()
    dupes = [u for u, n in collections.Counter(stored).items() if n > 1]
    assert not dupes, f"{len(dupes)} instances stored more than once"
    assert sorted(stored) == sorted(ws.out_uids())


def test_upload_confirm_and_upload_again_stores_each_instance_once(station, cloud,
                                                                   small_cohort):
    uids = sign_and_queue(station, small_cohort.files[:8])
    station.connect(cloud)
    done = station.cli("sync", "--once")
    assert done.returncode == 0, done.stderr
    assert "confirmed" in done.stdout and "0 waiting" in done.stdout
    states = station.states()
    assert set(states) == {"confirmed"} and states["confirmed"] == 8 + 2 * len(uids)
    assert_exactly_once(station, cloud)
    # Every object goes again (as after a lost confirmation): still one each.
    with station.library() as lib:
        lib.conn.execute("UPDATE outbox_items SET state = 'deidentified', attempts = 0")
        lib.conn.execute("UPDATE outbox SET state = 'sending'")
    again = station.cli("sync", "--once")
    assert again.returncode == 0, again.stderr
    assert_exactly_once(station, cloud)
    status = station.cli("sync", "--status")
    assert status.returncode == 0 and f"{states['confirmed']} confirmed" in status.stdout
    assert_library_consistent(station.home / "library")


def test_nothing_the_server_received_carries_planted_phi(station, cloud, tmp_path):
    from tests.support.deid_corpus import build_corpus, find_markers

    corpus = build_corpus(tmp_path / "corpus", patients=1)
    with station.library() as lib:
        import_paths(lib, corpus.files)
    station.connect(cloud)
    # The Basic profile: nothing planted may survive.  (The default sync
    # profile keeps what its options retain, e.g. times of day under shifted
    # dates; tests/integration/test_deid_planted.py checks that per option.)
    assert station.cli("config", "set", "deid.profile", "basic").returncode == 0
    assert station.cli("sync", "enqueue", "--all").returncode == 0
    done = station.cli("sync", "--once")
    assert done.returncode == 0, done.stderr
    files = list(cloud.instance_files())
    assert len(files) == station.states()["confirmed"] > 0
    left = set()
    for data in files:
        left |= find_markers(data, corpus.markers)
    assert not left, f"{len(left)} planted markers reached the server"


def test_dropped_stalled_and_reset_connections_still_complete(station, cloud, small_cohort):
    sign_and_queue(station, small_cohort.files[:8])
    proxy = FaultProxy("127.0.0.1", cloud.https_port)
    proxy.start()
    try:
        station.connect(cloud, url=f"https://localhost:{proxy.port}/dicom-web")
        station.cli("config", "set", "sync.batch_mb", "0.5")  # several requests
        proxy.plan([Fault("reset", after_bytes=150_000), Fault("drop", after_bytes=400_000),
                    Fault("stall", after_bytes=80_000, seconds=3, then="close"),
                    Fault("refuse"), Fault("reset", after_bytes=5_000)])
        done = station.cli("sync", "--once", timeout=600)
        assert done.returncode == 0, done.stderr
        assert proxy.faults_fired >= 4
        assert "trying again" in done.stderr
    finally:
        proxy.stop()
    assert set(station.states()) == {"confirmed"}
    assert_exactly_once(station, cloud)


def test_orthanc_restarted_mid_sync_completes(station, cloud, small_cohort):
    sign_and_queue(station, small_cohort.files[:4])  # about 7 MB
    station.connect(cloud)
    station.cli("config", "set", "sync.bandwidth_kib_s", "600")  # about 12 s of upload
    station.cli("config", "set", "sync.batch_mb", "0.5")
    env = {**os.environ, "MAMMODESK_HOME": str(station.home)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "sync", "--once"], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = station.home / "library"
    try:
        sending = wait_for_progress(folder, proc, lambda d: d["phase"] == "uploading"
                                    and d["bytes_done"] > 0)
        assert sending is not None, "the sync ended before it sent anything"
        cloud.stop_orthanc()
        waiting = wait_for_progress(folder, proc, lambda d: d["phase"] in ("retrying", "offline"))
        assert waiting is not None, "the sync ended without noticing the cloud was gone"
        cloud.start_orthanc()
        _out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "trying again" in err  # the restart was noticed, and waited out
    assert set(station.states()) == {"confirmed"}
    assert_exactly_once(station, cloud)


PHASES = ("preparing", "uploading", "confirming")


def _reached(doc: dict, target: str, share: float) -> bool:
    """The sync is at (or past) `target`; part-way through an upload: `share` of it sent."""
    phase = {"retrying": "uploading", "offline": "uploading"}.get(doc["phase"], doc["phase"])
    if phase not in PHASES:
        return False
    if phase == target == "uploading":
        return doc["bytes_done"] >= share * doc["bytes_total"]
    return PHASES.index(phase) >= PHASES.index(target)


def test_twenty_kills_at_random_moments(station, cloud, small_cohort):
    sign_and_queue(station, small_cohort.files[:8])
    station.connect(cloud)
    station.cli("config", "set", "sync.bandwidth_kib_s", "400")
    station.cli("config", "set", "sync.batch_mb", "0.3")
    env = {**os.environ, "MAMMODESK_HOME": str(station.home)}
    rng = random.Random(20)
    killed = 0
    for _trial in range(20):
        proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "sync", "--once"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        # A moment in a phase picked at random: while preparing, a little way
        # into the upload (a share of what is left, small enough that the work
        # lasts all twenty runs), or while confirming (a run that resumes an
        # upload confirms first); then a little later still.
        target = rng.choice(("preparing", "uploading", "uploading", "confirming"))
        share = rng.uniform(0.0, 0.15)
        wait_for_progress(station.home / "library", proc,
                          lambda d, target=target, share=share: _reached(d, target, share))
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        killed += proc.wait() == -signal.SIGKILL
        states = station.states()
        assert set(states) <= {"queued", "deidentified", "uploading", "confirmed"}
        stored = cloud.instance_uids()
        assert len(stored) == len(set(stored))
    assert killed >= 10, f"only {killed} of 20 runs were still working when killed"
    station.cli("config", "set", "sync.bandwidth_kib_s", "")
    done = station.cli("sync", "--once")
    assert done.returncode == 0, done.stderr
    assert set(station.states()) == {"confirmed"}
    assert_exactly_once(station, cloud)
    assert_library_consistent(station.home / "library")
    assert not list((station.home / "library" / "outbox").rglob("*.dcm"))


def test_wrong_password_is_a_clear_error_and_the_queue_stays(station, cloud, small_cohort):
    from sync.credentials import store_password

    sign_and_queue(station, small_cohort.files[:4])
    station.connect(cloud)
    store_password(cloud.user, "not-the-password")
    before = station.states()
    done = station.cli("sync", "--once")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "credentials" in lines[0] and "not-the-password" not in done.stderr
    after = station.states()
    assert sum(after.values()) == sum(before.values()) and "failed" not in after
    assert cloud.instance_uids() == []


def test_untrusted_or_wrong_host_or_plain_http_is_refused(station, cloud, small_cohort):
    sign_and_queue(station, small_cohort.files[:4])
    station.connect(cloud)
    cases = [
        ({"cloud.ca_bundle": ""}, "not trusted"),
        ({"cloud.url": f"https://127.0.0.1:{cloud.https_port}/dicom-web"}, "not trusted"),
        ({"cloud.url": f"http://127.0.0.1:{cloud.orthanc_port}/dicom-web"}, "plain http"),
    ]
    for changes, message in cases:
        for key, value in changes.items():
            assert station.cli("config", "set", key, value).returncode == 0
        done = station.cli("sync", "--once")
        assert done.returncode == 2, done.stdout
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
        station.cli("config", "set", "cloud.url", cloud.url)
        station.cli("config", "set", "cloud.ca_bundle", cloud.ca)
    assert cloud.instance_uids() == []
    assert "failed" not in station.states()
