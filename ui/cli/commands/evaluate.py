"""``evaluate DATASET``: a model package over a labelled dataset (AUC with
bootstrap CIs, FROC, calibration, strata), written to --out."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.errors import MammoDeskError
from engine.paths import AppPaths
from ui.cli.argtypes import BACKENDS, DATASET_KINDS, positive
from ui.cli.exit_codes import ExitCode
from ui.cli.output import NOT_CLINICAL, note, print_json, show_progress


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("evaluate", help="evaluate a model package on a labelled dataset")
    p.add_argument("data", metavar="DATASET")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--model", metavar="PACKAGE", help="package folder (default: the active one)")
    p.add_argument("--kind", default="auto", choices=DATASET_KINDS)
    p.add_argument("--backend", default="auto", choices=BACKENDS)
    p.add_argument("--resamples", type=positive, default=2000, help="bootstrap resamples")
    p.add_argument("--update-package", action="store_true",
                   help="store the results and a regenerated model card in --model")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.datasets.detect import read_dataset
    from engine.ai.evaluate_model import evaluate_model, update_package
    from engine.ai.package import read_package
    from engine.ai.runtime import load_runtime
    from engine.ai.service import current_package

    if args.update_package and not args.model:
        raise MammoDeskError("--update-package needs --model PACKAGE_FOLDER")
    records, summary = read_dataset(Path(args.data), args.kind)
    pkg = read_package(Path(args.model)) if args.model else current_package(paths.models)
    runtime = load_runtime(pkg, args.backend)

    def progress(done: int, total: int) -> None:
        if show_progress() or done == total:
            end = "\n" if done == total else ""
            print(f"\r{done}/{total} exams", end=end, file=sys.stderr, flush=True)

    out = Path(args.out)
    evaluation = evaluate_model(records, runtime, out, args.resamples, progress)
    if args.update_package:
        update_package(Path(args.model), evaluation, out, summary)
    warning = evaluation.get("warning")
    if args.json:
        print_json(evaluation)
        if warning:
            note(f"warning: {warning}")
        return ExitCode.OK
    froc = evaluation.get("froc") or {}
    print(f"model {pkg.describe()} on {runtime.device} ({NOT_CLINICAL})")
    print(f"breast-level AUC {auc_text(evaluation['breast_auc'], 'breasts')}, "
          f"exam-level AUC {auc_text(evaluation['exam_auc'], 'exams')}")
    if warning:
        print(f"warning: {warning}")
    if froc:
        print(f"FROC sensitivity at 1 false mark per image: "
              f"{froc['sensitivity_at_fp'].get('1')}")
    flagged = (evaluation.get("analysis") or {}).get("outside_training")
    if flagged:
        print(f"{flagged} exam(s) outside the training by the domain check "
              "(scored here all the same; a reader sees no score for them)")
    print(f"evaluation written to {out}")
    return ExitCode.OK


def auc_text(block: dict, unit: str) -> str:
    """"0.91 (95% CI 0.85-0.96)"; without the interval where the evaluation
    gave none (too few cases), and why there is no AUC where it has none."""
    if block["auc"] is None:
        return f"not computed ({block['n_pos']} positive and {block['n_neg']} negative {unit})"
    if block["ci_low"] is None:
        return f"{block['auc']} (no 95% CI)"
    return f"{block['auc']} (95% CI {block['ci_low']}-{block['ci_high']})"
