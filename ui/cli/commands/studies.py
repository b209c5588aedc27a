"""``studies``: what the library holds, with each study's UID (what
``analyze``, ``screenshot``, ``priority`` and ``sync enqueue`` take), the
patient's age at the study, its priority (urgent or routine), whether it has
a result of the active AI model, and whether the AI looks at it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from engine.dates import shown_date
from engine.notices import NOT_FOR_CLINICAL_USE
from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import NOT_CLINICAL, print_json

if TYPE_CHECKING:
    from pathlib import Path

    from engine.library import Library
    from engine.library.ai_results import ResultSummary
    from engine.library.listing import StudySummary

OUT_OF_SCOPE = "outside the AI's scope: "
NONE_YET = "none yet"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("studies", help="list the studies in the library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=run)


def ai_scope(study: StudySummary) -> str:
    """"yes", or "no: " and why the AI does not look at the study."""
    return "yes" if study.in_ai_scope else "no: " + study.ai_scope.removeprefix(OUT_OF_SCOPE)


def ai_result(study: StudySummary, summary: ResultSummary | None,
              problem: str | None) -> dict[str, object]:
    """The study's result of the active model, as JSON: status "done" (with
    its exam score, or the reason it has none), "none" (not analysed yet),
    "not_applicable" (outside the AI's scope) or "no_model"."""
    if summary is not None:
        return {"status": "done", "exam_score": summary.exam_score,
                "category": summary.category, "reason": summary.reason}
    if not study.in_ai_scope:
        return {"status": "not_applicable"}
    if problem:
        return {"status": "no_model", "reason": problem}
    return {"status": "none"}


def ai_result_text(shown: dict[str, object]) -> str:
    """The "AI result" column: the exam score, "none yet", or the reason."""
    status, score = shown["status"], shown.get("exam_score")
    if status == "done":
        if isinstance(score, int | float):
            return f"{score:.0f}/100"
        return f"no score: {shown.get('reason') or 'no breast assessed'}"
    if status == "no_model":
        return str(shown["reason"])
    return NONE_YET if status == "none" else "-"


def _active_results(library: Library, models_root: Path) -> tuple[dict[str, object] | None,
                                                   dict[str, ResultSummary], str | None]:
    """The active model (name, version: read from its package, not loaded),
    each study's result of it, or why there is no model."""
    from engine.ai.service import current_package
    from engine.errors import MammoDeskError
    from engine.library.ai_results import result_summaries

    try:
        package = current_package(models_root)
    except MammoDeskError as exc:
        return None, {}, str(exc)
    model: dict[str, object] = {"name": package.name, "version": package.version,
                                "notice": NOT_FOR_CLINICAL_USE}
    return model, result_summaries(library, (package.name, package.version)), None


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library, list_studies
    from engine.library.worklist import priority_name, worklist

    with Library(paths.library) as library:
        studies = list_studies(library)
        rows = {r.study_uid: r for r in worklist(library)}
        model, summaries, problem = _active_results(library, paths.models)
    results = {s.study_uid: ai_result(s, summaries.get(s.study_uid), problem) for s in studies}
    worklist_facts = {uid: {"age": r.age, "priority": priority_name(r)}
                      for uid, r in rows.items()}
    if args.json:
        print_json({"library": str(paths.library), "ai_model": model,
                    "studies": [s.as_dict() | worklist_facts.get(s.study_uid, {})
                                | {"ai_result": results[s.study_uid]} for s in studies]})
        return ExitCode.OK
    if not studies:
        print("the library is empty; add studies with: main.py import PATH")
        return ExitCode.OK
    uid_width = max(len("study UID"), *(len(s.study_uid) for s in studies))
    texts = {uid: ai_result_text(shown) for uid, shown in results.items()}
    ai_width = max(len("AI result"), *(len(t) for t in texts.values()))
    print(f"{'date':<10} {'priority':<8} {'patient':<24} {'id':<16} {'age':>3} {'images':>6}  "
          f"{'views':<20} {'study UID':<{uid_width}}  {'AI result':<{ai_width}}  AI scope")
    for s in studies:
        row = rows.get(s.study_uid)
        flag = "URGENT" if row is not None and row.urgent else ""
        age = "" if row is None or row.age is None else str(row.age)
        print(f"{shown_date(s.study_date):<10} {flag:<8} {s.patient_name[:24]:<24} "
              f"{s.patient_id[:16]:<16} {age:>3} "
              f"{s.instances:>6}  {' '.join(s.views)[:20]:<20} "
              f"{s.study_uid:<{uid_width}}  {texts[s.study_uid]:<{ai_width}}  {ai_scope(s)}")
    if model is not None and any(r["status"] == "done" for r in results.values()):
        print(f"AI results: {model['name']} {model['version']}, {NOT_CLINICAL}")
    return ExitCode.OK
