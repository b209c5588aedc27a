"""``import PATH...``: folders, DICOMDIRs and ZIP files into the library, then
the AI on the new studies and on every study in the AI's scope still without
a result of the active model (left by an interrupted import, ``--no-ai``, or
a newly activated model)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.paths import AppPaths
from ui.cli import ai_text
from ui.cli.exit_codes import ExitCode
from ui.cli.output import note, print_json, show_progress


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("import", help="import folders, DICOMDIRs and ZIP files")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-ai", action="store_true", help="do not run the AI after the import")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.study_analysis import StudyResults, results_for_studies
    from engine.library import Library, import_paths

    show = not args.json and show_progress()

    def progress(done: int, source: str) -> None:
        if show and done % 10 == 0:
            print(f"\r{done} files examined", end="", file=sys.stderr, flush=True)

    with Library(paths.library) as library:
        report = import_paths(library, args.paths, progress=progress)
        # New studies, and every study an interrupted or AI-less import left
        # without a result of the active model.
        ai = StudyResults(problem="switched off") if args.no_ai else results_for_studies(
            library, paths.models, sorted(report.study_uids), reuse_stored=False,
            add_missing=True)
    if show:
        print("\r", end="", file=sys.stderr)
    if args.json:
        print_json(report.as_dict() | {
            "ai": {uid: ai_text.summary(r) for uid, r in ai.results.items()},
            "ai_status": ai.problem or "done"})
    else:
        print(f"imported {report.imported} file(s) in {len(report.study_uids)} study(ies); "
              f"{report.already_present} already in the library; "
              f"{report.non_dicom} non-DICOM file(s) skipped")
        for rejected in report.rejected:
            print(f"rejected: {rejected.source}: {rejected.reason}")
        for link in report.followed_links:
            print(f"followed link: {link}")
        for uid, outcome in ai.results.items():
            print(ai_text.one_line(uid, outcome))
    if report.rejected:
        note(f"{len(report.rejected)} file(s) rejected")
        return ExitCode.PARTIAL
    return ExitCode.OK
