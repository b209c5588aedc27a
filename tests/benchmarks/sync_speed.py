"""Cloud sync speed: phantom studies uploaded through nginx (TLS) to Orthanc,
against curl posting the same multipart bytes to the same endpoint.

Set-up (not timed): start the reference cloud (packaging/cloud/local-cloud)
in a work folder, write ``--studies`` phantom studies (about 27 MB each, so
18 make about 490 MB), import them, create a site key, configure the cloud,
sign in and queue everything, all through main.py as a clinic would.

Each sync run is a child process of its own, so its memory is its own: it
builds the runner the way ``sync --once`` does, notes its idle resident
size, prepares (de-identifies and stages) every queued object on the first
run only, then runs the sync (STOW-RS in batches, then QIDO-RS confirm) and
times it.  A thread samples its resident size every 20 ms for its whole life.
The staged files are kept aside (hard links) after the first prepare, so
later runs upload the very same bytes again; before each run the server is
emptied and every object is set back to "deidentified".

The curl baseline posts, in the same run, the same batches the sync makes
(per study, under ``sync.batch_mb``), each body written to a file
beforehand with the sync's own MultipartBody, one curl process per batch,
one after another, to an emptied server.  Sync and curl runs alternate.

  throughput_mb_s        staged bytes / sync run time (upload and confirm);
                         baseline: the same bytes / curl's time (goal >= 0.8x)
  peak_rss_over_idle_mb  the sync process's peak resident size less its idle
                         size, worst run (goal < 300 MB)
  prepare_mb_s           de-identification + staging rate (first run)

Medians of ``--runs`` runs; MB = 1e6 bytes.  JSON lines last.

    .venv/bin/python tests/benchmarks/sync_speed.py [--studies 18] [--runs 3]
        [--batch-mb 64] [--work DIR] [--keep] [--profile]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SAMPLE_S = 0.02
MB = 1e6
PEAK_GOAL_MB = 300


# -- the sync process ---------------------------------------------------------

def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    """Resident size every 20 ms: the peak over the whole life and per phase."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kb = 0
        self.phase_peak_kb: dict[str, int] = {}
        self.phase = "start"
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.sample()
            self._done.wait(SAMPLE_S)

    def sample(self) -> None:
        kb = _status_kb("VmRSS")
        self.peak_kb = max(self.peak_kb, kb)
        self.phase_peak_kb[self.phase] = max(self.phase_peak_kb.get(self.phase, 0), kb)

    def enter(self, phase: str) -> None:
        self.sample()
        self.phase = phase

    def stop(self) -> None:
        self._done.set()
        self.join()
        self.sample()


def _time_calls(dicomweb: ModuleType) -> tuple[dict[str, float], collections.Counter[str]]:
    """Wrap STOW-RS and QIDO-RS to add up their time and calls."""
    timers: dict[str, float] = collections.defaultdict(float)
    calls: collections.Counter[str] = collections.Counter()

    def timed(name: str, fn):  # type: ignore[no-untyped-def]
        def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                timers[name] += time.perf_counter() - t0
                calls[name] += 1
        return wrapper

    # The runner calls both through the module, so this times its two phases.
    dicomweb.stow = timed("stow", dicomweb.stow)
    dicomweb.qido_instances = timed("qido", dicomweb.qido_instances)
    return timers, calls


def _prepare(args: argparse.Namespace, library, runner, outbox,  # type: ignore[no-untyped-def]
             sampler: RssSampler, out: dict[str, object]) -> None:
    """De-identify and stage every queued object; keep the staged files aside."""
    sampler.enter("prepare")
    t0 = time.perf_counter()
    for box, _uid in outbox.open_studies(library):
        queued = outbox.items(library, box, [outbox.QUEUED])
        if queued:
            runner.stager.prepare(queued)
    out["prepare_s"] = time.perf_counter() - t0
    sampler.enter("between")
    out["prepare_source_bytes"] = sum(
        int(n or 0) for (n,) in library.conn.execute(
            "SELECT i.file_size FROM outbox_items o JOIN instances i "
            "ON i.sop_uid = o.source WHERE o.kind = 'image'"))
    if args.stash:  # kept aside for later runs: hard links, no copying
        shutil.copytree(runner.stager.root, args.stash, copy_function=os.link)


def _upload(runner, profile: bool, sampler: RssSampler,  # type: ignore[no-untyped-def]
            out: dict[str, object]):
    """The timed sync run: (its result, the profiler or None)."""
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    sampler.enter("upload")
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    result = runner.run()
    if profiler:
        profiler.disable()
    out["upload_s"] = time.perf_counter() - t0
    return result, profiler


def _print_profile(profiler) -> None:  # type: ignore[no-untyped-def]
    import pstats

    for key in ("tottime", "cumulative"):
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(key).print_stats(25)


def child_main(args: argparse.Namespace) -> None:
    """One sync run; prints one JSON line with its timings and memory."""
    sampler = RssSampler()
    sampler.start()

    from engine.library import Library, outbox
    from engine.paths import app_paths
    from sync import dicomweb
    from sync.service import build_runner, sync_lock
    from ui.cli.startup import configured_library, setup_logging

    paths = configured_library(app_paths(), None)
    setup_logging(paths, verbose=False)
    timers, calls = _time_calls(dicomweb)

    out: dict[str, object] = {}
    with Library(paths.library) as library, sync_lock(library):
        runner = build_runner(paths, library, once=True)
        sampler.enter("idle")
        idle_kb = _status_kb("VmRSS")
        out["idle_rss_mb"] = idle_kb / 1024
        if args.prepare:
            _prepare(args, library, runner, outbox, sampler, out)
        rows = library.conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM outbox_items WHERE state = ?",
            (outbox.DEIDENTIFIED,)).fetchone()
        out["objects"], out["bytes"] = int(rows[0]), int(rows[1])
        result, profiler = _upload(runner, args.profile, sampler, out)
        sampler.enter("end")
    sampler.stop()
    if profiler:
        _print_profile(profiler)
    out.update({
        "stow_s": timers["stow"], "stow_calls": calls["stow"],
        "confirm_s": timers["qido"], "qido_calls": calls["qido"],
        "peak_rss_mb": sampler.peak_kb / 1024,
        "phase_peak_mb": {k: v / 1024 for k, v in sampler.phase_peak_kb.items()},
        "vm_hwm_mb": _status_kb("VmHWM") / 1024,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "result": vars(result),
    })
    print(json.dumps(out), flush=True)


# -- set-up -------------------------------------------------------------------

class Bench:
    def __init__(self, work: Path, batch_mb: float | None) -> None:
        self.work = work
        self.home = work / "home"
        self.stash = work / "staged-kept"
        self.bodies = work / "curl-bodies"
        self.env = {**os.environ, "MAMMODESK_HOME": str(self.home),
                    "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                    "XDG_DATA_HOME": str(work / "xdg")}
        self.batch_mb = batch_mb
        self.cloud = None  # type: ignore[var-annotated]

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT,
                              env=self.env, input=stdin, capture_output=True, text=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"main.py {args[0]} failed (exit {done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}")
        return done.stdout

    def set_up(self, studies: int) -> None:
        from tests.support.cloud import LocalCloud, missing_software

        reason = missing_software()
        if reason:
            raise RuntimeError(reason)
        t0 = time.perf_counter()
        self.cloud = LocalCloud.start(self.work / "cloud")
        cohort = self.work / "phantom"
        self.cli("phantom", "--out", str(cohort), "--studies", str(studies), "--seed", "77")
        _say(f"phantom: {studies} studies in {time.perf_counter() - t0:.0f} s")
        self.cli("import", "--no-ai", str(cohort))
        self.cli("deid-key", "create")
        self.cli("config", "set", "cloud.url", self.cloud.url)
        self.cli("config", "set", "cloud.ca_bundle", self.cloud.ca)
        if self.batch_mb is not None:
            self.cli("config", "set", "sync.batch_mb", f"{self.batch_mb:g}")
        self.cli("login", "--user", self.cloud.user, "--password-stdin",
                 stdin=self.cloud.password + "\n")
        self.cli("sync", "enqueue", "--all")
        _say(f"set up in {time.perf_counter() - t0:.0f} s")

    def library(self):  # type: ignore[no-untyped-def]
        from engine.library import Library

        return Library(self.home / "library")

    # -- one sync run
    def sync_run(self, first: bool, profile: bool) -> dict:
        if not first:
            self.restore()
        self.cloud.delete_all()
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child"]
        if first:
            cmd += ["--prepare", "--stash", str(self.stash)]
        if profile:
            cmd.append("--profile")
        done = subprocess.run(cmd, cwd=ROOT, env=self.env, stdout=subprocess.PIPE, text=True,
                              check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the sync run failed (exit {done.returncode})")
        doc = json.loads(done.stdout.strip().splitlines()[-1])
        self.check_synced(doc)
        return doc

    def restore(self) -> None:
        """Staged files back in place, every object back to "deidentified"."""
        outbox_dir = self.home / "library" / "outbox"
        shutil.rmtree(outbox_dir, ignore_errors=True)
        shutil.copytree(self.stash, outbox_dir, copy_function=os.link)
        with self.library() as lib, lib.transaction() as conn:
            conn.execute("UPDATE outbox_items SET state = 'deidentified', attempts = 0, "
                         "last_error = NULL")
            conn.execute("UPDATE outbox SET state = 'sending'")

    def expected_uids(self) -> list[str]:
        with self.library() as lib:
            return sorted(u for (u,) in lib.conn.execute("SELECT out_sop_uid FROM outbox_items"))

    def check_synced(self, doc: dict) -> None:
        with self.library() as lib:
            states = collections.Counter(s for (s,) in lib.conn.execute(
                "SELECT state FROM outbox_items"))
        if set(states) != {"confirmed"}:
            raise RuntimeError(f"after the sync run the outbox is not all confirmed: "
                               f"{dict(states)}; runner: {doc.get('result')}")
        self.check_server("sync")

    def check_server(self, who: str) -> None:
        stored = self.cloud.instance_uids()
        dupes = [u for u, n in collections.Counter(stored).items() if n > 1]
        expected = self.expected_uids()
        if dupes or sorted(stored) != expected:
            raise RuntimeError(f"after the {who} run the server holds {len(stored)} instances "
                               f"({len(dupes)} duplicated), expected {len(expected)}")

    # -- curl
    def write_bodies(self) -> tuple[list[tuple[Path, str, str]], int]:
        """(body file, content type, study UID) per batch, as the sync groups them;
        and the staged bytes they carry."""
        from engine.library import outbox
        from engine.settings import Settings
        from sync.multipart import MultipartBody
        from sync.runner import DEFAULT_BATCH_MB, _batches

        value = Settings(self.home / "config").all().get("sync.batch_mb") or DEFAULT_BATCH_MB
        cap = int(float(value) * 1024 * 1024)  # as SyncRunner._batch_bytes
        self.bodies.mkdir(exist_ok=True)
        self.restore()  # every object "deidentified" again, grouped as the sync will
        out, payload = [], 0
        with self.library() as lib:
            for box, _uid in outbox.open_studies(lib):
                ready = outbox.items(lib, box, [outbox.DEIDENTIFIED])
                for batch in _batches(ready, cap):
                    path = self.bodies / f"batch-{len(out):04d}.body"
                    body = MultipartBody([self.stash / (i.staged or "") for i in batch])
                    with body, open(path, "wb") as fh:
                        while block := body.read(1 << 20):
                            fh.write(block)
                    if path.stat().st_size != len(body):
                        raise RuntimeError("a multipart body came out of the wrong length")
                    out.append((path, body.content_type, batch[0].out_study_uid or ""))
                    payload += sum(i.size for i in batch)
        return out, payload

    def curl_run(self, bodies: list[tuple[Path, str, str]]) -> float:
        from sync.dicomweb import DICOM_JSON, _url

        self.cloud.delete_all()
        cloud = self.cloud
        cmds = [["curl", "-sS", "--fail", "--noproxy", "*", "--cacert", cloud.ca,
                 "-u", f"{cloud.user}:{cloud.password}", "-H", f"Content-Type: {ctype}",
                 "-H", f"Accept: {DICOM_JSON}", "--data-binary", f"@{path}",
                 _url(cloud.url, "studies", study), "-o", os.devnull]
                for path, ctype, study in bodies]
        t0 = time.perf_counter()
        for cmd in cmds:
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"curl failed (exit {done.returncode}): {done.stderr.strip()}")
        seconds = time.perf_counter() - t0
        self.check_server("curl")
        return seconds


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _line(metric: str, value: object, **extra: object) -> str:
    return json.dumps({"bench": "sync_speed", "metric": metric, "value": value, **extra})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=18)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--batch-mb", type=float, default=None,
                    help="sync.batch_mb for the sync and the curl batches (default: the "
                         "sync's own default)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--profile", action="store_true",
                    help="cProfile each sync run's upload (to stderr; slows it down)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--prepare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--stash", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(args)
        return
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
    work = (args.work or Path(tempfile.mkdtemp(prefix="mammodesk-sync-bench-"))).absolute()
    bench = Bench(work, args.batch_mb)
    try:
        bench.set_up(args.studies)
        syncs: list[dict] = []
        curls: list[float] = []
        bodies: list[tuple[Path, str, str]] = []
        payload = 0
        for run in range(args.runs):
            doc = bench.sync_run(first=run == 0, profile=args.profile)
            syncs.append(doc)
            if run == 0:
                bodies, payload = bench.write_bodies()
                if payload != doc["bytes"]:
                    raise RuntimeError(f"curl would send {payload} bytes, the sync sent "
                                       f"{doc['bytes']}")
                prep = (f"; prepare {doc['prepare_s']:.1f} s "
                        f"({doc['bytes'] / MB / doc['prepare_s']:.1f} MB/s)")
            else:
                prep = ""
            curls.append(bench.curl_run(bodies))
            over = doc["vm_hwm_mb"] - doc["idle_rss_mb"]
            print(f"run {run + 1}: sync {doc['bytes'] / MB:.0f} MB, {doc['objects']} objects "
                  f"in {doc['upload_s']:.2f} s ({doc['bytes'] / MB / doc['upload_s']:.1f} MB/s; "
                  f"STOW {doc['stow_s']:.2f} s in {doc['stow_calls']} requests, QIDO "
                  f"{doc['confirm_s']:.2f} s); curl {curls[-1]:.2f} s "
                  f"({payload / MB / curls[-1]:.1f} MB/s, {len(bodies)} requests); "
                  f"rss idle {doc['idle_rss_mb']:.0f} MB, peak +{over:.0f} MB{prep}",
                  flush=True)
        mb = payload / MB
        sync_rate = mb / statistics.median(d["upload_s"] for d in syncs)
        stow_rate = mb / statistics.median(d["stow_s"] for d in syncs)
        curl_rate = mb / statistics.median(curls)
        peak = max(max(d["vm_hwm_mb"], d["peak_rss_mb"]) - d["idle_rss_mb"] for d in syncs)
        first = syncs[0]
        upload_peak = max(d["phase_peak_mb"].get("upload", 0) - d["idle_rss_mb"] for d in syncs)
        print("\n".join([
            _line("throughput_mb_s", round(sync_rate, 2), baseline=round(curl_rate, 2),
                  ratio=round(sync_rate / curl_rate, 3), unit="MB/s", baseline_tool="curl",
                  mb=round(mb, 1), runs=args.runs, requests=len(bodies),
                  stow_only_mb_s=round(stow_rate, 2),
                  confirm_s=round(statistics.median(d["confirm_s"] for d in syncs), 3)),
            _line("peak_rss_over_idle_mb", round(peak, 1), goal=PEAK_GOAL_MB, unit="MB",
                  idle_mb=round(statistics.median(d["idle_rss_mb"] for d in syncs), 1),
                  upload_only_mb=round(upload_peak, 1),
                  ru_maxrss_mb=round(max(d["ru_maxrss_mb"] for d in syncs), 1)),
            _line("prepare_mb_s", round(first["bytes"] / MB / first["prepare_s"], 2),
                  unit="MB/s", seconds=round(first["prepare_s"], 2)),
        ]), flush=True)
    finally:
        if bench.cloud is not None:
            try:
                bench.cloud.stop()
            except Exception as exc:  # report, and still clean up
                _say(f"stopping the cloud failed: {exc}")
        if args.keep:
            _say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
