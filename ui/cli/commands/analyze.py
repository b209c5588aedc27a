"""``analyze PATH|UID``: the local AI on one study; optionally a CAD SR and a
PDF report.  A library study keeps its result."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.paths import AppPaths
from ui.cli import ai_text
from ui.cli.argtypes import BACKENDS
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("analyze", help="run the AI on a study (folder, file, ZIP or study UID)")
    p.add_argument("target", metavar="PATH|UID")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sr", metavar="OUT.dcm", help="write a Mammography CAD SR")
    p.add_argument("--pdf", metavar="OUT.pdf", help="write a PDF report")
    p.add_argument("--model", metavar="PACKAGE", help="package folder (default: the active one)")
    p.add_argument("--backend", default="auto", choices=BACKENDS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.service import open_runtime
    from engine.ai.study_analysis import analyze_and_keep, target_datasets
    from engine.library import Library

    with Library(paths.library) as library:
        datasets = target_datasets(library, args.target)
        if args.model:
            from engine.ai.package import read_package
            from engine.ai.runtime import load_runtime

            runtime = load_runtime(read_package(Path(args.model)), args.backend)
        else:
            runtime = open_runtime(paths.models, args.backend)
        result, stored = analyze_and_keep(library, datasets, runtime)
    if args.sr:
        from engine.ai.cad_sr import write_cad_sr

        write_cad_sr(result, datasets, Path(args.sr))
    if args.pdf:
        from engine.ai.display import display_images
        from engine.ai.report_pdf import write_report_pdf

        images, flips = display_images(datasets, result)
        write_report_pdf(result, images, Path(args.pdf), flips=flips, heatmap_alpha=0.35)
    if args.json:
        print_json(result.to_dict() | {"stored_in_library": stored,
                                       "model_load_s": round(runtime.load_s, 3)})
        return ExitCode.OK
    ai_text.print_result(result)
    return ExitCode.OK
