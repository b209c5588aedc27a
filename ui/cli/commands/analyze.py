"""``analyze PATH|UID``: the local AI on one study; optionally a CAD SR and a
PDF report.  A library study keeps its result, unless the library's result of
the same model judged more of the exam (one file of a four-view study).
``analyze --missing``: every library study in the AI's scope without a result
of the active model."""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.errors import MammoDeskError
from engine.paths import AppPaths
from ui.cli import ai_text
from ui.cli.argtypes import BACKENDS
from ui.cli.exit_codes import ExitCode
from ui.cli.output import note, print_json


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("analyze", help="run the AI on a study (folder, file, ZIP or study UID)")
    p.add_argument("target", metavar="PATH|UID", nargs="?")
    p.add_argument("--missing", action="store_true",
                   help="analyse every library study without a result of the active model")
    p.add_argument("--json", action="store_true")
    p.add_argument("--sr", metavar="OUT.dcm", help="write a Mammography CAD SR")
    p.add_argument("--pdf", metavar="OUT.pdf", help="write a PDF report")
    p.add_argument("--model", metavar="PACKAGE", help="package folder (default: the active one)")
    p.add_argument("--backend", default="auto", choices=BACKENDS)
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    if args.missing:
        extra = [name for name, value in (("PATH|UID", args.target), ("--sr", args.sr),
                                          ("--pdf", args.pdf), ("--model", args.model))
                 if value]
        if extra:
            raise MammoDeskError(f"analyze --missing takes no {', '.join(extra)}: it analyses "
                                 "library studies with the active model")
    elif not args.target:
        raise MammoDeskError("analyze needs a PATH or study UID, or --missing")


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    _check(args)
    if args.missing:
        return run_missing(args, paths)
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
        analysis = analyze_and_keep(library, datasets, runtime)
    result = analysis.result
    if args.sr:
        from engine.ai.cad_sr import write_cad_sr

        write_cad_sr(result, datasets, Path(args.sr))
    if args.pdf:
        from engine.ai.display import display_images
        from engine.ai.report_pdf import write_report_pdf
        from engine.reporting.patient import PatientContext

        images, flips = display_images(datasets, result)
        write_report_pdf(result, images, Path(args.pdf), flips=flips, heatmap_alpha=0.35,
                         patient=PatientContext.from_dataset(datasets[0]))
    if args.json:
        print_json(result.to_dict() | {"stored_in_library": analysis.stored,
                                       "library_kept_reason": analysis.kept_reason,
                                       "model_load_s": round(runtime.load_s, 3)})
        return ExitCode.OK
    ai_text.print_result(result)
    if analysis.kept_reason:
        print(f"not stored: {analysis.kept_reason}")
    return ExitCode.OK


def run_missing(args: argparse.Namespace, paths: AppPaths) -> int:
    """Every library study in the AI's scope without a result of the active model."""
    from engine.ai.study_analysis import results_for_studies
    from engine.library import Library

    with Library(paths.library) as library:
        ai = results_for_studies(library, paths.models, [], reuse_stored=False,
                                 add_missing=True, backend=args.backend)
    if ai.problem:
        raise MammoDeskError(ai.problem)
    failed = sum(isinstance(r, str) for r in ai.results.values())
    if args.json:
        print_json({"ai": {uid: ai_text.summary(r) for uid, r in ai.results.items()},
                    "analysed": len(ai.results), "failed": failed})
    elif not ai.results:
        print("every library study in the AI's scope has a result of the active model")
    else:
        for uid, outcome in ai.results.items():
            print(ai_text.one_line(uid, outcome))
    if failed:
        note(f"{failed} study(ies) could not be analysed")
        return ExitCode.PARTIAL
    return ExitCode.OK
