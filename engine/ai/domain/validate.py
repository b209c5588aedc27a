"""Measure the domain check of a package on inputs made here.

``python -m engine.ai.domain.validate PACKAGE --out DIR [--studies N]``
renders, for every kind in engine.ai.domain.inputs.KINDS, N studies from
phantom seed 2004, which neither the training nor the fit used (twice as
many in-distribution phantoms, fewer full-size ones; optionally also
``--check-studies`` of the fit's check seed), runs them through the
package's model and check, prints a table of study flag rates and writes
DIR/validation.json and DIR/validation.md.  It takes minutes and is not
part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import pickle
import re
import shutil
import sys
import time
from pathlib import Path

from engine.ai.domain.check import DomainCheck
from engine.ai.domain.cohort import run_jobs
from engine.ai.domain.inputs import KINDS, Job
from engine.ai.domain.report import table_lines
from engine.ai.package import ModelPackage, read_package
from engine.ai.package_manifest import sha256_file
from engine.ai.runtime import load_runtime

SEED = 2004
FULL_SIZE_STUDIES = 4  # full-size phantoms are four times slower to render


def _row(kind: str, label: str, outcomes: list) -> dict:
    analysed = [o for o in outcomes if o.analysed]
    flagged = [o for o in analysed if o.flagged]
    reasons: dict[str, int] = {}
    for o in flagged:
        for v in o.verdicts:
            for r in v.reasons:
                key = re.match(r"[^0-9(]*", r).group(0).strip()  # type: ignore[union-attr]
                reasons[key] = reasons.get(key, 0) + 1
    return {
        "kind": kind,
        "label": label,
        "studies": len(outcomes),
        "refused": sum(not o.analysed for o in outcomes),
        "analysed": len(analysed),
        "flagged": len(flagged),
        "rate": round(len(flagged) / len(analysed), 4) if analysed else 0.0,
        "view_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
    }


def _outcomes(pkg: ModelPackage, plan: list[tuple[str, Job]], out: Path) -> dict[str, list]:
    """Every planned study through the model, without the check; cached in
    ``out`` per row (keyed by the model file and the row's studies) so a
    re-run renders only what changed and re-judges the rest."""
    assert pkg.onnx_path is not None
    model = sha256_file(pkg.onnx_path)
    cache = out / "outcomes.pkl"
    cached: dict[str, tuple] = {}
    if cache.exists():
        with open(cache, "rb") as fh:
            cached = pickle.load(fh)
    rows: dict[str, list[Job]] = {}
    for name, job in plan:
        rows.setdefault(name, []).append(job)
    outcomes = {
        n: cached[n][1] for n, jobs in rows.items() if cached.get(n, (None,))[0] == (model, jobs)
    }
    todo = [(n, j) for n, j in plan if n not in outcomes]
    if todo:
        runtime = load_runtime(pkg, "onnxruntime")
        work = out / "scratch"
        try:
            results = run_jobs(runtime, [job for _, job in todo], work)
            for k, ((name, _), o) in enumerate(zip(todo, results, strict=True), 1):
                outcomes.setdefault(name, []).append(o)
                print(f"\r{k}/{len(todo)} studies", end="", file=sys.stderr, flush=True)
            print(file=sys.stderr)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    cached.update({n: ((model, rows[n]), outcomes[n]) for n in rows})
    with open(cache, "wb") as fh:
        pickle.dump(cached, fh)
    return {n: outcomes[n] for n in rows}


def validate(package_dir: Path, out: Path, studies: int, check_seed: int, check_n: int) -> dict:
    pkg = read_package(package_dir)
    plan = [("phantom_heldout", Job("phantom", check_seed, i)) for i in range(check_n)]
    for kind in KINDS:
        n = {"phantom_full": FULL_SIZE_STUDIES, "phantom": 2 * studies}.get(kind, studies)
        plan += [(kind, Job(kind, SEED, i)) for i in range(n)]
    labels = {"phantom_heldout": f"in-distribution phantom, held-out seed {check_seed}"}
    labels |= {k: f"{v}, seed {SEED}" for k, v in KINDS.items()}
    t0 = time.perf_counter()
    outcomes = _outcomes(pkg, plan, out)
    check = DomainCheck.from_package(pkg)
    if check is None:
        return {"package": pkg.describe(), "rows": [], "note": "no domain check: model run only"}
    rows = [_row(name, labels[name], [o.judge(check) for o in outcomes[name]]) for name in outcomes]
    return {"package": pkg.describe(), "seconds": round(time.perf_counter() - t0, 1), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m engine.ai.domain.validate")
    ap.add_argument("package", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--studies", type=int, default=20, help="studies per kind")
    ap.add_argument("--check-seed", type=int, default=2003)
    ap.add_argument("--check-studies", type=int, default=0, help="studies of --check-seed")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    result = validate(args.package, args.out, args.studies, args.check_seed, args.check_studies)
    table = "\n".join(table_lines(result["rows"]))
    (args.out / "validation.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "validation.md").write_text(table + "\n")
    print(table)
    for r in result["rows"]:
        if r["view_reasons"]:
            print(f"{r['kind']}: {r['view_reasons']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
