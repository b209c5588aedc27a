"""AI latency: one four-view study end to end on the CPU, against what it
cannot avoid: decoding the four files at the model's resolution, and the
forward pass.

Measures three studies by default, each generated here and each in a child
process of its own per backend (so peak memory and imports are per backend
and ONNX Runtime is never charged for TensorFlow's import):

* ``default``: 1664 x 2048 at 0.1 mm, uncompressed;
* ``full``: 3328 x 4096 at 0.07 mm, JPEG 2000 lossless (the usual format
  from the most common screening units);
* ``large``: 2800 x 4500 at 0.065 mm, RLE lossless, 16 bits allocated.

Per study, after one warm-up, the median of ``--runs`` runs (interleaved, so
background load hits all alike) of:

* end to end: read the four files from disk, decode, preprocess, inference,
  heatmaps, marks (``datasets_from_path`` + ``analyze_datasets``, what
  ``main.py analyze PATH`` runs);
* forward: ``Runtime.predict`` of the same network on the same, already
  prepared input arrays (checked to give the same breast probabilities as
  the full analysis);
* decode: reading the four files and decoding them at the model's reduction
  (``decode_for_model``) in the same worker processes, nothing else.

Goals (2 CPU cores, ONNX Runtime): end to end under 0.4 s (default), 1.2 s
(full JPEG 2000), 1.5 s (large RLE); end to end no more than 1.25 x
(decode + forward); peak memory (this process and its decoding workers)
under 1 GB.

Figures (JSON lines, last in the output), per study with the suffix
``_default``, ``_full_j2k``, ``_large_rle``: ``end_to_end_s`` (baseline:
decode + forward, so ``ratio`` is the 1.25 goal's figure; the forward pass
alone is given too), ``peak_rss_mb`` (this process plus the peak of each
decoding worker; baseline: RSS once the model is loaded), ``model_load_s``
and ``stage_medians_s`` (prepare / inference / postprocess from the result's
own timings); for a second backend (``--backend both``) the same with the
backend's name appended.

    .venv/bin/python tests/benchmarks/ai_latency.py [--model PACKAGE_DIR] [--runs 5]
        [--backend onnxruntime|tensorflow|auto|both] [--study default,full_j2k,large_rle]
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
# study name -> (phantom size preset, transfer syntax, goal end to end in seconds)
STUDIES = {
    "default": ("default", "raw", 0.4),
    "full_j2k": ("full", "jpeg2000", 1.2),
    "large_rle": ("large", "rle", 1.5),
}
GOAL_RATIO, GOAL_RSS_MB = 1.25, 1000.0
STAGES = ("prepare", "inference", "postprocess")


def _hwm_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident memory (VmHWM), or None where /proc has none.

    Not getrusage's ru_maxrss: Linux carries that across exec, so a child
    started by a parent that once held a full-size cohort would report the
    parent's peak as its own."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _peak_rss_mb() -> float:
    hwm = _hwm_mb()
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _rss_now_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
    except (OSError, ValueError, IndexError):
        return _peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _workers_peak_rss_mb() -> float:
    """The decoding workers' peak resident memory, summed (they run side by side)."""
    from engine.ai import prepare_pool

    return sum(_hwm_mb(pid) or 0.0 for pid in prepare_pool.worker_pids())


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def decoded_shape(ds, spec):  # type: ignore[no-untyped-def]
    """Decode one file at the model's reduction and keep nothing (runs in a worker)."""
    from engine.ai.preprocess import decode_for_model

    return decode_for_model(ds, spec)[0].shape


def _model_inputs(study: Path, runtime, result):  # type: ignore[no-untyped-def]
    """The arrays analyze_datasets feeds the network, prepared once, outside any
    timing (in the decoding workers, so this process's peak memory is the analysis's)."""
    import numpy as np

    from engine.ai import prepare_pool
    from engine.ai.service import datasets_from_path

    by_uid = {str(ds.SOPInstanceUID): ds for ds in datasets_from_path(study)}
    views = {(v.laterality, v.view_position): v
             for v in result.views if v.score is not None or v.withheld_score is not None}
    sides = [b.laterality for b in result.breasts
             if b.probability is not None or b.withheld_probability is not None]
    if not sides:
        raise MammoDeskError(f"the phantom study was not assessed: {result.reason}")

    def stack(position: str) -> np.ndarray:
        chosen = [by_uid[views[(s, position)].sop_instance_uid] for s in sides]
        outcomes = prepare_pool.map_views(prepare_pool.prepare_one, chosen, runtime.spec)
        return np.stack([o.image for o in outcomes])[..., None]

    probs = [(b.probability if b.probability is not None else b.withheld_probability)
             for b in (result.breast(s) for s in sides) if b is not None]
    return stack("CC"), stack("MLO"), probs


def child(backend: str, study: Path, model: Path, runs: int) -> dict:
    """Measure one backend in this process; returns the raw figures."""
    from engine.ai import prepare_pool
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

    def decode_only() -> float:
        t = time.perf_counter()
        prepare_pool.map_views(decoded_shape, datasets_from_path(study), runtime.spec)
        return time.perf_counter() - t

    first_s, result = end_to_end()  # warm-up (and the workers' start)
    cc, mlo, probs = _model_inputs(study, runtime, result)
    out = runtime.predict(cc, mlo)  # warm-up
    decode_only()
    got = [float(p) for p in out["breast_prob"][:, 0]]
    if any(abs(a - b) > 1e-3 for a, b in zip(got, probs, strict=True)):
        raise MammoDeskError(f"forward pass gives {got}, the analysis {probs}: not the same input")
    print(f"[{runtime.backend}] loaded in {load_s:.2f} s on {runtime.device}; "
          f"first analysis {first_s:.2f} s", file=sys.stderr)
    times: dict[str, list[float]] = {"e2e": [], "fwd": [], "decode": []}
    stages: dict[str, list[float]] = {k: [] for k in STAGES}
    for i in range(runs):
        seconds, result = end_to_end()
        times["e2e"].append(seconds)
        for k in STAGES:
            stages[k].append(float(result.timings_s[k]))
        t = time.perf_counter()
        runtime.predict(cc, mlo)
        times["fwd"].append(time.perf_counter() - t)
        times["decode"].append(decode_only())
        print(f"[{runtime.backend}] run {i}: end to end {seconds:.3f} s, forward "
              f"{times['fwd'][-1]:.3f} s, decode {times['decode'][-1]:.3f} s, "
              f"stages {result.timings_s}", file=sys.stderr)
    return {
        "backend": runtime.backend,
        "device": runtime.device,
        "model": runtime.package.describe(),
        "notice": result.notice,
        "load_s": load_s,
        "backend_load_s": runtime.load_s,
        "rss_loaded_mb": rss_loaded,
        "peak_rss_mb": _peak_rss_mb() + _workers_peak_rss_mb(),
        "peak_rss_self_mb": _peak_rss_mb(),
        "workers": len(prepare_pool.worker_pids()),
        "times_s": times,
        "stages_s": stages,
        "tensorflow_imported": "tensorflow" in sys.modules,
    }


def _available(pkg, backend: str) -> bool:  # type: ignore[no-untyped-def]
    if backend == "onnxruntime":
        return pkg.onnx_path is not None and importlib.util.find_spec("onnxruntime") is not None
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "keras"))


def _run_child(backend: str, study: Path, model: Path, runs: int) -> dict:
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
    flags = ("--child", backend, "--study-dir", study, "--model", model, "--runs", runs)
    cmd = [sys.executable, str(Path(__file__).resolve()), *map(str, flags)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise MammoDeskError(f"the {backend} measurement failed (exit {proc.returncode})")
    return json.loads(lines[-1])


def _lines(m: dict, suffix: str, goal_s: float, common: dict) -> list[dict]:
    """One measurement's figures as JSON-ready dicts; ``common`` goes on the end-to-end line."""
    e2e, fwd, dec = (statistics.median(m["times_s"][k]) for k in ("e2e", "fwd", "decode"))
    peak, loaded = m["peak_rss_mb"], m["rss_loaded_mb"]
    stages = {k: round(statistics.median(v), 4) for k, v in m["stages_s"].items()}

    def line(metric: str, value: object, unit: str, **extra: object) -> dict:
        return {"bench": BENCH, "metric": metric + suffix, "value": value, **extra,
                "unit": unit, "backend": m["backend"], "device": m["device"]}

    return [
        line("end_to_end_s", round(e2e, 4), "s", baseline=round(dec + fwd, 4),
             ratio=round(e2e / (dec + fwd), 3), goal=goal_s, goal_ratio=GOAL_RATIO,
             baseline_is="decode of the four files at the model's reduction + forward pass",
             decode_s=round(dec, 4), forward_s=round(fwd, 4), **common),
        line("peak_rss_mb", round(peak, 1), "MB", baseline=round(loaded, 1),
             ratio=round(peak / loaded, 3), goal=GOAL_RSS_MB,
             baseline_is="RSS with the model loaded", decoding_workers=m["workers"],
             this_process_mb=round(m["peak_rss_self_mb"], 1),
             tensorflow_imported=m["tensorflow_imported"]),
        line("model_load_s", round(m["load_s"], 3), "s",
             backend_load_s=round(m["backend_load_s"], 3)),
        line("stage_medians_s", stages, "s"),
    ]


def _make_study(work: Path, name: str) -> Path:
    """One synthetic four-view study of the named kind; returns its folder."""
    import pydicom
    from pydicom.uid import RLELossless

    from engine.phantom import generate_cohort

    size, syntax, _ = STUDIES[name]
    t0 = time.perf_counter()
    cohort = generate_cohort(work / name, 1, seed=5, size=size, jpeg2000=syntax == "jpeg2000")
    if syntax == "rle":
        for path in cohort.files:
            ds = pydicom.dcmread(path)
            ds.compress(RLELossless, ds.pixel_array, encoding_plugin="pylibjpeg")
            ds.save_as(path, enforce_file_format=True)
    mb = sum(p.stat().st_size for p in cohort.files) / 1e6
    print(f"{name}: generated {len(cohort.files)} files ({mb:.1f} MB) in "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return cohort.files[0].parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, default=BUILTIN_MODEL, help="model package folder")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--backend", default="onnxruntime",
                        choices=("auto", "tensorflow", "onnxruntime", "both"))
    parser.add_argument("--study", default=",".join(STUDIES),
                        help=f"comma-separated, from {', '.join(STUDIES)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--study-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    unknown = set(args.study.split(",")) - set(STUDIES)
    if unknown:
        parser.error(f"unknown study {', '.join(sorted(unknown))}")
    try:
        if args.child:
            print(json.dumps(child(args.child, args.study_dir, args.model, args.runs)))
            return
        _parent(args)
    except MammoDeskError as exc:
        print(f"ai_latency: {exc}", file=sys.stderr)
        sys.exit(2)


def _parent(args: argparse.Namespace) -> None:
    from engine.ai.runtime import choose_backend

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
    names = args.study.split(",")
    work = Path(tempfile.mkdtemp(prefix="mammodesk-bench-"))
    lines: list[dict] = []
    try:
        for name in names:
            study = _make_study(work, name)
            measured = {b: _run_child(b, study, args.model, args.runs) for b in backends}
            shutil.rmtree(study.parent, ignore_errors=True)
            size, syntax, goal = STUDIES[name]
            for i, (b, m) in enumerate(measured.items()):
                common = {"runs": args.runs, "study": name, "size": size, "syntax": syntax,
                          "cores": _cores(), "model": m["model"], "notice": m["notice"]}
                suffix = f"_{name}" + ("" if i == 0 else f"_{b}")
                lines += _lines(m, suffix, goal, common)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for line in lines:
        print(json.dumps(line))


if __name__ == "__main__":
    main()
