"""``audit``: the screening audit of signed reads against recorded outcomes
(recall rate, cancer detection rate, PPV1-3, sensitivity, specificity, ...),
per reader and for the site, with the AI's standalone figures beside them
and the published benchmarks; as a table, JSON, or a PDF.  Screening exams
only (diagnostic ones are counted apart); under double reading each reader's
own reads, the site's final decisions, and the arbitration figures.  The
definitions are in engine/reading/audit_measures.py."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import MammoDeskError
from engine.paths import AppPaths
from ui.cli.exit_codes import ExitCode
from ui.cli.output import NOT_CLINICAL, print_json

if TYPE_CHECKING:
    from engine.reading.audit import AuditReport
    from engine.reading.audit_benchmarks import OperatingPoint


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help="the screening audit: recall rate, cancer detection, "
                                     "PPV, sensitivity, specificity (per reader and site)")
    p.add_argument("--from", dest="start", metavar="YYYY-MM-DD",
                   help="first study date of the period")
    p.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last study date of the period")
    p.add_argument("--reader", metavar="NAME", help="only this reader's figures (and the site's)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--pdf", type=Path, metavar="OUT.pdf", help="also write the audit as a PDF")
    p.set_defaults(run=run)


def _date(text: str | None, what: str) -> dt.date | None:
    if text is None:
        return None
    from engine.library.outcomes import parse_date

    try:
        return parse_date(text)
    except ValueError:
        raise MammoDeskError(f"{what} must be a real date written YYYY-MM-DD") from None


def _model(paths: AppPaths) -> tuple[tuple[str, str] | None, OperatingPoint | None, str | None]:
    """The model in use (name, version), its recall operating point, or why there is none."""
    from engine.ai.service import current_package
    from engine.reading.audit_benchmarks import operating_point

    try:
        package = current_package(paths.models)
    except MammoDeskError as exc:
        return None, None, str(exc)
    return ((package.name, package.version),
            operating_point(package.manifest.get("operating_points", {})), None)


def _table(report: AuditReport) -> None:
    from engine.reading.audit_benchmarks import BCSC_2017
    from engine.reporting.audit_pdf import ROWS, ai_text, figure, period_text, shown

    cols = [("Site", report.site.measures), ("AI (site)", report.site.ai.measures)]
    cols += [(name, g.measures) for name, g in sorted(report.readers.items())]
    heads = [name[:18] for name, _ in cols] + ["BCSC 2017"]
    cells = [[figure(m, key) for _, m in cols] + [shown(BCSC_2017["values"].get(key), kind)]
             for key, _, kind in ROWS]
    width = max(len(label) for _, label, _ in ROWS)
    sizes = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(heads)]
    print(f"Screening audit, {period_text(report)}")
    print(" " * width + "  " + "  ".join(h.rjust(s) for h, s in zip(heads, sizes, strict=True)))
    for (_, label, _), row in zip(ROWS, cells, strict=True):
        print(label.ljust(width) + "  "
              + "  ".join(c.rjust(s) for c, s in zip(row, sizes, strict=True)))
    print(ai_text(report) + f" ({NOT_CLINICAL})")
    double = report.double_reading
    if double.get("exams"):
        rate = double["arbitration_rate"]
        print(f"Double reading: {double['exams']} exam(s) read twice, "
              f"{double['disagreements']} disagreement(s) on recall "
              f"({'-' if rate is None else f'{100 * rate:.1f}%'}), "
              f"{double['arbitrated']} arbitrated")
    print("Screening exams only" + (f"; {report.diagnostic_exams} diagnostic exam(s) left out"
                                    if report.diagnostic_exams else ""))
    left = {k: v for k, v in report.excluded.items() if v}
    if left:
        print("Left out: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in left.items()))


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.outcomes import audit_data, readers
    from engine.reading.audit import audit, same_reader

    start, end = _date(args.start, "--from"), _date(args.end, "--to")
    if start and end and start > end:
        raise MammoDeskError("--from is after --to")
    model, point, why = _model(paths)
    with Library(paths.library) as library:
        if args.reader is not None and not any(same_reader(r, args.reader)
                                               for r in readers(library)):
            raise MammoDeskError("no signed read by that reader")
        data = audit_data(library, model)
    report = audit(data, start=start, end=end, reader=args.reader, point=point, model=model,
                   ai_reason=why)
    if args.pdf is not None:
        from engine.reporting.audit_pdf import write_audit_pdf

        write_audit_pdf(report, args.pdf)
    if args.json:
        print_json(report.as_dict() | ({"pdf": str(args.pdf)} if args.pdf else {}))
        return ExitCode.OK
    _table(report)
    if args.pdf is not None:
        print(f"audit written to {args.pdf}")
    return ExitCode.OK
