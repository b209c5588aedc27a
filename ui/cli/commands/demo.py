"""``demo``: make (first time) and show the synthetic demo study with its AI
result (its prior gets one too); opens it in the window when there is a
screen."""

from __future__ import annotations

import argparse

from engine.dates import shown_date
from engine.paths import AppPaths
from ui.cli import ai_text
from ui.cli.exit_codes import ExitCode
from ui.cli.output import NOT_CLINICAL, print_json
from ui.cli.screen import has_display


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="make and open the synthetic demo study")
    p.add_argument("--headless", action="store_true", help="print instead of opening a window")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.ai.study_analysis import results_for_studies
    from engine.demo import ensure_demo_study
    from engine.library import Library, list_instances, list_studies

    with Library(paths.library) as library:
        demo = ensure_demo_study(paths.demo, library)
        uids = [demo.study_uid] + ([demo.prior_study_uid] if demo.prior_study_uid else [])
        ai = results_for_studies(library, paths.models, uids, reuse_stored=True)
        summary = list_studies(library, demo.study_uid)[0]
        images = list_instances(library, demo.study_uid)
    outcome = ai.results.get(demo.study_uid)
    if ai.problem or outcome is None:
        why = ai.problem or "the demo study is outside the AI's scope"
        shown: dict[str, object] = {"status": "no_model", "message": f"{why}; results will "
                                    f"show here, marked '{NOT_CLINICAL}'"}
    else:
        shown = ai_text.summary(outcome)
    prior = ai.results.get(demo.prior_study_uid) if demo.prior_study_uid else None
    headless = args.headless or not has_display()
    if args.json:
        print_json({"study": summary.as_dict(), "prior_study_uid": demo.prior_study_uid,
                    "library": str(paths.library), "ai": shown, "headless": headless,
                    "prior_ai": ai_text.summary(prior) if prior is not None else None,
                    "images": [image.as_dict() for image in images]})
        return ExitCode.OK
    print(f"demo study (synthetic): {summary.patient_name}, {shown_date(summary.study_date)}, "
          f"{summary.instances} images, views {' '.join(summary.views)}")
    for image in images:
        print(f"  {image.view_label:<6} {image.columns}x{image.rows}  view from "
              f"{image.view_source}, laterality from {image.laterality_source}")
    if demo.prior_study_uid:
        print("  prior study from a year earlier is in the library too")
        if prior is not None:
            print(f"  prior {ai_text.one_line(demo.prior_study_uid, prior)}")
    if isinstance(outcome, str) or outcome is None:
        print(f"AI: {shown.get('message')}")
    else:
        ai_text.print_result(outcome)
    print(f"library: {paths.library}")
    if not headless:
        from ui.app import run_gui

        return run_gui(paths, open_uid=demo.study_uid)
    return ExitCode.OK
