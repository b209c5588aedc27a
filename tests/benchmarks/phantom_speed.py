"""Phantom cohort speed: studies per minute at the default and full sizes.

Run: .venv/bin/python tests/benchmarks/phantom_speed.py [--studies N]

Per size it times N four-view studies one by one (median per-study time) and,
as a baseline, the time to write the same four pixel arrays with plain
pydicom (so the ratio says how much the synthesis costs over bare I/O).
The last lines are one JSON object per figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pydicom

from engine.phantom import generate_cohort
from engine.phantom.plan import plan_study
from engine.phantom.presets import SIZE_PRESETS
from engine.phantom.study import render_exam


def _time_studies(size: str, n: int, work: Path) -> list[float]:
    # Warm up imports, FFT plans and caches once.
    generate_cohort(work / f"warm-{size}", 1, seed=999, size=size)
    preset = SIZE_PRESETS[size]
    keys = ["bench", size]
    times = []
    for k in range(n):
        plan = plan_study(1, k, 0.3, 0.0)
        t0 = time.perf_counter()
        render_exam(
            plan,
            plan.current,
            f"MDP-1-{k + 1:04d}",
            work / size,
            preset,
            "MONOCHROME2",
            False,
            keys,
            1,
        )
        times.append(time.perf_counter() - t0)
    return times


def _time_plain_write(size: str, work: Path) -> float:
    """Median time to re-write one study's four files with plain pydicom."""
    files = sorted((work / size / "MDP-1-0001").glob("*.dcm"))
    datasets = [pydicom.dcmread(f) for f in files]
    times = []
    for rep in range(3):
        t0 = time.perf_counter()
        for i, ds in enumerate(datasets):
            ds.PixelData = ds.pixel_array.tobytes()
            pydicom.dcmwrite(work / f"plain-{rep}-{i}.dcm", ds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--studies", type=int, default=5)
    args = ap.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for size in ("default", "full"):
            n = args.studies if size == "default" else max(2, args.studies // 2)
            per_study = statistics.median(_time_studies(size, n, work))
            plain = _time_plain_write(size, work)
            print(
                f"{size}: {per_study:.3f} s/study (median of {n}); plain pydicom write "
                f"of the same 4 images {plain:.3f} s",
                flush=True,
            )
            lines.append(
                {
                    "bench": "phantom_speed",
                    "metric": f"studies_per_min_{size}",
                    "value": round(60.0 / per_study, 2),
                    "baseline": round(60.0 / plain, 2),
                    "ratio": round(plain / per_study, 3),
                    "unit": "studies/min",
                }
            )
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
