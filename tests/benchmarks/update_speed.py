"""Model update speed: a model package of about 20 MB fetched from the
reference cloud's TUF repository through nginx (TLS), against curl
downloading the same target file from the same nginx.

Set-up (not timed): start the reference cloud (packaging/cloud/local-cloud)
in a work folder, copy the shipped model package, add a file of random bytes
(``--padding-mb``, listed in its manifest as evaluation/padding.bin) and a
newer version, and publish it in the stable channel with model-repo add.

A fetch run is what ``models check`` does once it has settled on a target,
in this process, with a fresh models folder and metadata cache each time:
open_updater (seed the cache with the trusted root, refresh timestamp,
snapshot and targets), newest_target (walk the delegation to the channel),
fetch_candidate (download with length and hash checks as it streams, unpack,
verify every file of the package, keep it as a candidate).  The curl run
downloads the target file to disk, certificate verified with the cloud's CA.
Fetch and curl runs alternate.

  download_mb_s  target bytes / the download's time (streamed into staging,
                 length and hashes checked as it arrives); baseline: the same
                 bytes / curl's time (goal >= 0.8x curl)
  fetch_mb_s     target bytes / the whole fetch run (metadata, download,
                 unpack, verify every file); baseline: curl's, as above
  acceptance_s   acceptance of a candidate (the shipped network under a new
                 version) against the shipped model, as ``models check`` runs
                 it: the shipped acceptance set rendered, both models on
                 ONNX Runtime, TensorFlow on the first studies (goal < 60 s);
                 baseline: the live model alone over the same set

Medians of ``--runs`` runs; MB = 1e6 bytes.  JSON lines last.

    .venv/bin/python tests/benchmarks/update_speed.py [--runs 5] [--padding-mb 12]
        [--work DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.errors import MammoDeskError  # noqa: E402
from tests.support.update_bench import UpdateBench  # noqa: E402

MB = 1e6
RATIO_GOAL = 0.8


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _line(metric: str, value: object, **extra: object) -> str:
    return json.dumps({"bench": "update_speed", "metric": metric, "value": value, **extra})


def measure_fetch(bench: UpdateBench, runs: int) -> list[str]:
    """Fetch and curl runs, alternating; the JSON lines of their medians."""
    fetches: list[dict[str, float]] = []
    curls: list[float] = []
    mb = bench.target_length / MB
    for run in range(runs):
        fetches.append(bench.fetch_run(run))
        curls.append(bench.curl_run())
        f = fetches[-1]
        print(f"run {run + 1}: fetch {mb:.1f} MB in {f['total_s']:.3f} s "
              f"({mb / f['total_s']:.1f} MB/s; metadata {f['metadata_s']:.3f} s, "
              f"download {f['download_s']:.3f} s, unpack and verify "
              f"{f['unpack_verify_s']:.3f} s); curl {curls[-1]:.3f} s "
              f"({mb / curls[-1]:.1f} MB/s)", flush=True)
    fetch_rate = mb / statistics.median(f["total_s"] for f in fetches)
    curl_rate = mb / statistics.median(curls)

    def median(key: str) -> float:
        return round(statistics.median(f[key] for f in fetches), 4)

    download_rate = mb / median("download_s")
    return [_line("download_mb_s", round(download_rate, 2), baseline=round(curl_rate, 2),
                  ratio=round(download_rate / curl_rate, 3), goal_ratio=RATIO_GOAL,
                  unit="MB/s", baseline_tool="curl", mb=round(mb, 2), runs=runs),
            _line("fetch_mb_s", round(fetch_rate, 2), baseline=round(curl_rate, 2),
                 ratio=round(fetch_rate / curl_rate, 3), goal_ratio=RATIO_GOAL, unit="MB/s",
                 baseline_tool="curl", mb=round(mb, 2), runs=runs,
                 metadata_s=median("metadata_s"), download_s=median("download_s"),
                 unpack_verify_s=median("unpack_verify_s"))]


def measure_acceptance(work: Path, runs: int) -> str:
    """Acceptance of a candidate against the shipped model, and the live model alone."""
    from engine.ai.acceptance.run import declared_metrics, run_acceptance
    from engine.ai.package import read_package
    from tests.support.cloud import SHIPPED_MODEL, shipped_model_copy

    live = read_package(SHIPPED_MODEL)
    candidate = read_package(shipped_model_copy(work / "acceptance-candidate", "99.0.0"))
    accept_s, alone_s = [], []
    for run in range(runs):
        t0 = time.perf_counter()
        report = run_acceptance(candidate, live)
        accept_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        declared_metrics(live)
        alone_s.append(time.perf_counter() - t0)
        print(f"run {run + 1}: acceptance {accept_s[-1]:.1f} s ({report['reason']}); "
              f"live model alone {alone_s[-1]:.1f} s", flush=True)
    value, base = statistics.median(accept_s), statistics.median(alone_s)
    return _line("acceptance_s", round(value, 1), baseline=round(base, 1),
                 ratio=round(value / base, 2), goal=60.0, runs=runs,
                 breasts=report["sets"]["shipped"]["positives"]
                 + report["sets"]["shipped"]["negatives"], accepted=report["accepted"])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--padding-mb", type=float, default=12.0,
                    help="random bytes added to the shipped package (MB)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("--acceptance-runs", type=int, default=1,
                    help="acceptance runs (about a minute each; 0: none)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    if args.work:
        args.work.mkdir(parents=True, exist_ok=True)
    work = (args.work or Path(tempfile.mkdtemp(prefix="mammodesk-update-bench-"))).absolute()
    bench = UpdateBench(work)
    try:
        t0 = time.perf_counter()
        bench.set_up(int(args.padding_mb * MB))
        _say(f"set up in {time.perf_counter() - t0:.1f} s: {bench.target} "
             f"({bench.target_length / MB:.1f} MB)")
        lines = measure_fetch(bench, args.runs)
        bench.close()  # the cloud is not needed for acceptance
        if args.acceptance_runs > 0:
            lines.append(measure_acceptance(work, args.acceptance_runs))
        print("\n".join(lines), flush=True)
    finally:
        bench.close()
        if args.keep:
            _say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.umask(0o077)
    try:
        main()
    except (MammoDeskError, RuntimeError, subprocess.SubprocessError) as exc:
        _say(f"update_speed: {exc}")
        sys.exit(1)
