"""``studies``: what the library holds, with each study's UID (what
``analyze``, ``screenshot`` and ``sync enqueue`` take) and whether the AI
looks at it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from engine.dates import shown_date
from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json

if TYPE_CHECKING:
    from engine.library.listing import StudySummary

OUT_OF_SCOPE = "outside the AI's scope: "


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("studies", help="list the studies in the library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def ai_scope(study: StudySummary) -> str:
    """"yes", or "no: " and why the AI does not look at the study."""
    return "yes" if study.in_ai_scope else "no: " + study.ai_scope.removeprefix(OUT_OF_SCOPE)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library, list_studies

    with Library(paths.library) as library:
        studies = list_studies(library)
    if args.json:
        print_json({"library": str(paths.library),
                    "studies": [s.as_dict() for s in studies]})
        return ExitCode.OK
    if not studies:
        print("the library is empty; add studies with: main.py import PATH")
        return ExitCode.OK
    uid_width = max(len("study UID"), *(len(s.study_uid) for s in studies))
    print(f"{'date':<10} {'patient':<24} {'id':<16} {'images':>6}  {'views':<20} "
          f"{'study UID':<{uid_width}}  AI scope")
    for s in studies:
        print(f"{shown_date(s.study_date):<10} {s.patient_name[:24]:<24} {s.patient_id[:16]:<16} "
              f"{s.instances:>6}  {' '.join(s.views)[:20]:<20} "
              f"{s.study_uid:<{uid_width}}  {ai_scope(s)}")
    return ExitCode.OK
