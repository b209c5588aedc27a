"""``phantom``: a synthetic screening cohort (DICOM files and labels.csv)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.paths import AppPaths
from ui.cli.argtypes import fraction, positive
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json, show_progress


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("phantom", help="write a synthetic screening cohort (DICOM + labels)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--studies", required=True, type=positive, metavar="N")
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument("--cancer-rate", type=fraction, default=0.3, metavar="R")
    p.add_argument("--prior-rate", type=fraction, default=0.0, metavar="P",
                   help="fraction of women who also get a prior study a year earlier")
    p.add_argument("--size", choices=["small", "default", "full", "large"], default="default")
    p.add_argument("--monochrome1", action="store_true", help="write inverted MONOCHROME1")
    p.add_argument("--jpeg2000", action="store_true", help="JPEG 2000 lossless pixel data")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.phantom import generate_cohort

    show = not args.json and show_progress()

    def progress(done: int, total: int) -> None:
        if show:
            print(f"\r{done}/{total} studies", end="", file=sys.stderr, flush=True)

    result = generate_cohort(
        Path(args.out), args.studies, seed=args.seed, cancer_rate=args.cancer_rate,
        size=args.size, prior_rate=args.prior_rate,
        photometric="MONOCHROME1" if args.monochrome1 else "MONOCHROME2",
        jpeg2000=args.jpeg2000, progress=progress)
    if show:
        print(file=sys.stderr)
    summary = {"out": str(result.out_dir), "studies": result.studies,
               "files": len(result.files), "labels": str(result.labels_csv)}
    if args.json:
        print_json(summary)
    else:
        print(f"wrote {summary['files']} DICOM files for {result.studies} synthetic "
              f"stud{'y' if result.studies == 1 else 'ies'} to {result.out_dir}; "
              f"labels in {result.labels_csv}")
    return ExitCode.OK
