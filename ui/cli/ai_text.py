"""How the commands show an AI result: a JSON summary, one line per study
(import), or the full text (analyze, demo)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ui.cli.output import NOT_CLINICAL

if TYPE_CHECKING:
    from engine.ai.results import ExamResult


def summary(outcome: ExamResult | str) -> dict[str, object]:
    """A result, or the reason a study has none, as JSON."""
    if isinstance(outcome, str):
        return {"status": "failed", "message": outcome}
    return {"status": "done", "notice": outcome.notice, "model": outcome.model_name,
            "model_version": outcome.model_version, "device": outcome.device,
            "backend": outcome.backend, "exam_score": outcome.exam_score,
            "category": outcome.category, "density": outcome.density,
            "reason": outcome.reason, "outside_training": outcome.outside_training,
            "breasts": {b.laterality: b.probability for b in outcome.breasts},
            "marks": sum(len(v.marks) for v in outcome.views),
            "seconds": outcome.timings_s.get("total")}


def one_line(study_uid: str, outcome: ExamResult | str) -> str:
    """``AI: UID: ...``: the exam score, or what a partial result has instead."""
    if isinstance(outcome, str):
        return f"AI: {study_uid}: not analysed: {outcome}"
    if outcome.exam_score is None:
        return f"AI: {study_uid}: no exam score: {outcome.reason or 'no breast assessed'}"
    line = f"AI: {study_uid}: exam score {outcome.exam_score:.0f}/100"
    if outcome.category is not None:
        line += f", category {outcome.category}/10"
    if outcome.reason:
        line += f"; {outcome.reason}"
    return f"{line} ({NOT_CLINICAL})"


def print_result(result: ExamResult) -> None:
    print(f"AI result ({result.notice})")
    print(f"  model {result.model_name} {result.model_version} on {result.device} "
          f"({result.backend}), {result.timings_s.get('total', 0):.2f} s")
    if result.exam_score is not None:
        print(f"  exam score {result.exam_score:.0f}/100, category {result.category}/10, "
              f"density {result.density}")
    if result.reason:
        print(f"  note: {result.reason}")
    for b in result.breasts:
        side = "right" if b.laterality == "R" else "left"
        if b.probability is None:
            print(f"  {side} breast: {b.reason}")
        else:
            print(f"  {side} breast: malignancy probability {b.probability:.3f}, "
                  f"density {b.density}")
    for v in result.views:
        if v.reason:
            print(f"  {v.view or '?'}: not applicable: {v.reason}")
        for m in v.marks:
            print(f"  {v.view}: mark at ({m.x:.0f}, {m.y:.0f}) score {m.score:.2f}")
