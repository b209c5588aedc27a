"""AI latency: one four-view study end to end on the CPU, against the bare forward pass.

Generates one synthetic four-view study (default size 1664 x 2048, optionally
JPEG 2000) and, per backend, in a child process of its own (so peak memory and
imports are per backend and ONNX Runtime is never charged for TensorFlow's
import), loads the model package and times:

* end to end: read the four files from disk, decode, preprocess, inference,
  heatmaps, marks (``datasets_from_path`` + ``analyze_datasets``, what
  ``main.py analyze PATH`` runs);
* baseline: ``Runtime.predict`` of the same network on the same, already
  prepared input arrays, in the same process (checked to give the same
  breast probabilities as the full analysis).

Each is the median of ``--runs`` runs after one warm-up, the two interleaved
so background load hits both alike.  GPUs are hidden from the children.

Goals (2 CPU cores): end to end under 1.5 s; overhead over the forward pass,
(end_to_end - forward) / end_to_end, under 25 %; peak memory under 2.5 GB.

Figures (JSON lines, last in the output): ``end_to_end_s`` (baseline: forward
pass), ``overhead_fraction``, ``peak_rss_mb`` (baseline: RSS once the model is
loaded, before the first analysis), ``model_load_s`` (package verification +
backend load) and ``stage_medians_s`` (prepare / inference / postprocess from
the result's own timings), for the backend ``auto`` picks (or the one asked
for), then the same figures for every backend measured, with the suffix
``_tensorflow`` or ``_onnxruntime``.

    .venv/bin/python tests/benchmarks/ai_latency.py [--model PACKAGE_DIR] [--runs 5]
        [--backend auto|tensorflow|onnxruntime|both] [--jpeg2000] [--size default]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine.ai.package import read_package
from engine.ai.service import BUILTIN_MODEL
from engine.errors import MammoDeskError

BENCH = "ai_latency"
GOAL_S, GOAL_OVERHEAD, GOAL_RSS_MB = 1.5, 0.25, 2500.0
STAGES = ("prepare", "inference", "postprocess")


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _rss_now_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return _peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _model_inputs(study: Path, runtime, result):  # type: ignore[no-untyped-def]
    """The arrays analyze_datasets feeds the network, prepared once, outside any timing."""
    import numpy as np

    from engine.ai.preprocess import prepare
    from engine.ai.service import datasets_from_path

    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets_from_path(study)}
    views = {(v.laterality, v.view_position): v for v in result.views if v.score is not None}
    sides = [b.laterality for b in result.breasts if b.probability is not None]
    if not sides:
        raise MammoDeskError(f"the phantom study was not assessed: {result.reason}")

    def stack(position: str) -> np.ndarray:
        images = [
            prepare(by_uid[views[(s, position)].sop_instance_uid], runtime.spec).image
            for s in sides
        ]
        return np.stack(images)[..., None]

    return stack("CC"), stack("MLO"), [result.breast(s).probability for s in sides]


def child(backend: str, study: Path, model: Path, runs: int) -> dict:
    """Measure one backend in this process; returns the raw figures."""
    from engine.ai.analyze import analyze_datasets
    from engine.ai.runtime import load_runtime
    from engine.ai.service import datasets_from_path

    t0 = time.perf_counter()
    runtime = load_runtime(read_package(model), backend)
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_now_mb()

    def end_to_end():  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        result = analyze_datasets(datasets_from_path(study), runtime)
        return time.perf_counter() - t, result

    first_s, result = end_to_end()  # warm-up
    cc, mlo, probs = _model_inputs(study, runtime, result)
    out = runtime.predict(cc, mlo)  # warm-up
    got = [float(p) for p in out["breast_prob"][:, 0]]
    if any(abs(a - b) > 1e-3 for a, b in zip(got, probs, strict=True)):
        raise MammoDeskError(f"forward pass gives {got}, the analysis {probs}: not the same input")
    print(
        f"[{runtime.backend}] loaded in {load_s:.2f} s on {runtime.device}; "
        f"first analysis {first_s:.2f} s",
        file=sys.stderr,
    )
    e2e: list[float] = []
    fwd: list[float] = []
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    for i in range(runs):
        seconds, result = end_to_end()
        e2e.append(seconds)
        for k in STAGES:
            stages[k].append(float(result.timings_s[k]))
        t = time.perf_counter()
        runtime.predict(cc, mlo)
        fwd.append(time.perf_counter() - t)
        print(
            f"[{runtime.backend}] run {i}: end to end {e2e[-1]:.3f} s, "
            f"forward {fwd[-1]:.3f} s, stages {result.timings_s}",
            file=sys.stderr,
        )
    return {
        "backend": runtime.backend,
        "device": runtime.device,
        "model": runtime.package.describe(),
        "notice": result.notice,
        "load_s": load_s,
        "backend_load_s": runtime.load_s,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": _peak_rss_mb(),
        "end_to_end_s": e2e,
        "forward_s": fwd,
        "stages_s": stages,
        "tensorflow_imported": "tensorflow" in sys.modules,
    }


def _available(pkg, backend: str) -> bool:  # type: ignore[no-untyped-def]
    if backend == "onnxruntime":
        return pkg.onnx_path is not None and importlib.util.find_spec("onnxruntime") is not None
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))


def _run_child(backend: str, study: Path, model: Path, runs: int) -> dict:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
    flags = ("--child", backend, "--study", study, "--model", model, "--runs", runs)
    cmd = [sys.executable, str(Path(__file__).resolve()), *map(str, flags)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise MammoDeskError(f"the {backend} measurement failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def _lines(m: dict, suffix: str, common: dict) -> list[dict]:
    """One backend's figures as JSON-ready dicts; ``common`` goes on the end-to-end line."""
    e2e, fwd = statistics.median(m["end_to_end_s"]), statistics.median(m["forward_s"])
    peak, loaded = m["peak_rss_mb"], m["rss_loaded_mb"]
    stages = {k: round(statistics.median(v), 4) for k, v in m["stages_s"].items()}

    def line(metric: str, value: object, unit: str, **extra: object) -> dict:
        return {
            "bench": BENCH,
            "metric": metric + suffix,
            "value": value,
            **extra,
            "unit": unit,
            "backend": m["backend"],
            "device": m["device"],
        }

    return [
        line(
            "end_to_end_s",
            round(e2e, 4),
            "s",
            baseline=round(fwd, 4),
            ratio=round(e2e / fwd, 3),
            goal=GOAL_S,
            baseline_is="forward pass on the prepared input",
            **common,
        ),
        line("overhead_fraction", round((e2e - fwd) / e2e, 4), "fraction", goal=GOAL_OVERHEAD),
        line(
            "peak_rss_mb",
            round(peak, 1),
            "MB",
            baseline=round(loaded, 1),
            ratio=round(peak / loaded, 3),
            goal=GOAL_RSS_MB,
            baseline_is="RSS with the model loaded",
            tensorflow_imported=m["tensorflow_imported"],
        ),
        line(
            "model_load_s", round(m["load_s"], 3), "s", backend_load_s=round(m["backend_load_s"], 3)
        ),
        line("stage_medians_s", stages, "s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=BUILTIN_MODEL, help="model package folder")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--backend", default="both", choices=("auto", "tensorflow", "onnxruntime", "both")
    )
    parser.add_argument("--jpeg2000", action="store_true", help="store the study as JPEG 2000")
    parser.add_argument("--size", default="default", help="phantom size preset")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--study", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    try:
        if args.child:
            print(json.dumps(child(args.child, args.study, args.model, args.runs)))
            return
        _parent(args)
    except MammoDeskError as exc:
        print(f"ai_latency: {exc}", file=sys.stderr)
        sys.exit(2)


def _parent(args: argparse.Namespace) -> None:
    from engine.ai.runtime import choose_backend
    from engine.phantom import generate_cohort

    if not args.model.is_dir():
        raise MammoDeskError(f"no model package at {args.model}; give one with --model")
    pkg = read_package(args.model)
    auto = choose_backend(pkg, "auto")
    if args.backend == "both":
        backends = [b for b in ("onnxruntime", "tensorflow") if _available(pkg, b)]
    else:
        backends = [auto if args.backend == "auto" else args.backend]
    if not backends:
        raise MammoDeskError("neither ONNX Runtime nor TensorFlow can run this model")
    work = Path(tempfile.mkdtemp(prefix="mammodesk-bench-"))
    try:
        t0 = time.perf_counter()
        cohort = generate_cohort(work / "cohort", 1, seed=5, size=args.size, jpeg2000=args.jpeg2000)
        study = cohort.files[0].parent
        mb = sum(p.stat().st_size for p in cohort.files) / 1e6
        print(
            f"generated {len(cohort.files)} files ({mb:.1f} MB) in "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        measured = {b: _run_child(b, study, args.model, args.runs) for b in backends}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    headline = auto if auto in measured else backends[0]
    common = {
        "runs": args.runs,
        "size": args.size,
        "cores": _cores(),
        "jpeg2000": args.jpeg2000,
        "model": measured[headline]["model"],
        "notice": measured[headline]["notice"],
    }
    lines = _lines(measured[headline], "", common)
    for b, m in measured.items():
        lines += _lines(m, f"_{b}", common)
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
