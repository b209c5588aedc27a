"""Import speed: files per second into a fresh library, against plain dcmread.

Generates a 20-study phantom cohort (default size), warms the page cache,
then alternates a baseline pass (``pydicom.dcmread`` of every file, pixel
data included, nothing else) with a full import into a new library, several
times, and prints medians.  The ratio is import speed over baseline speed.

A second figure compares the import with the least any crash-safe import
must do: copy each file and fsync it (``shutil.copyfile`` + ``os.fsync``).

    .venv/bin/python tests/benchmarks/import_speed.py [--studies 20] [--size default]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import pydicom

from engine.library import Library, import_paths
from engine.phantom import generate_cohort


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--size", default="default")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mammodesk-bench-"))
    try:
        t0 = time.perf_counter()
        cohort = generate_cohort(work / "cohort", args.studies, seed=11, size=args.size)
        print(f"generated {len(cohort.files)} files in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)
        files = cohort.files
        total_mb = sum(p.stat().st_size for p in files) / 1e6
        for path in files:  # warm the page cache for both contenders
            path.read_bytes()
        baseline, ours, copying = [], [], []
        for i in range(args.repeats):
            t0 = time.perf_counter()
            for path in files:
                pydicom.dcmread(path).PixelData  # noqa: B018
            baseline.append(len(files) / (time.perf_counter() - t0))
            lib_root = work / f"library-{i}"
            t0 = time.perf_counter()
            with Library(lib_root) as lib:
                report = import_paths(lib, [cohort.out_dir])
            ours.append(len(files) / (time.perf_counter() - t0))
            assert report.imported == len(files), report.as_dict()
            shutil.rmtree(lib_root)
            copy_root = work / f"copy-{i}"
            copy_root.mkdir()
            t0 = time.perf_counter()
            for n, path in enumerate(files):
                target = copy_root / f"{n}.dcm"
                shutil.copyfile(path, target)
                with open(target, "rb") as handle:
                    os.fsync(handle.fileno())
            copying.append(len(files) / (time.perf_counter() - t0))
            shutil.rmtree(copy_root)
            print(f"run {i}: import {ours[-1]:.1f} files/s, dcmread {baseline[-1]:.1f}, "
                  f"copy+fsync {copying[-1]:.1f} files/s", file=sys.stderr)
        value, base = statistics.median(ours), statistics.median(baseline)
        print(json.dumps({"bench": "import_speed", "metric": "files_per_s",
                          "value": round(value, 2), "baseline": round(base, 2),
                          "ratio": round(value / base, 3), "unit": "files/s",
                          "files": len(files), "mb": round(total_mb, 1),
                          "size": args.size}))
        copy = statistics.median(copying)
        print(json.dumps({"bench": "import_speed", "metric": "files_per_s_vs_copy",
                          "value": round(value, 2), "baseline": round(copy, 2),
                          "ratio": round(value / copy, 3), "unit": "files/s",
                          "baseline_is": "copy + fsync of the same files"}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
