"""``read UID``: the radiologist's BI-RADS read of a library study from the
command line: save a draft, or sign it with the same checks as the window.

Options left out keep the draft's current values, so a read can be built up
over several calls.  A signed read is locked."""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import asdict, replace
from typing import TYPE_CHECKING

from engine.errors import MammoDeskError
from engine.paths import AppPaths
from engine.reading.birads import ASSESSMENTS, DENSITY, RECOMMENDATIONS
from engine.reading.finding_text import EXAMPLE, NIPPLE_SUFFIX
from ui.cli.exit_codes import ExitCode
from ui.cli.output import print_json

if TYPE_CHECKING:
    from engine.library.reads import Read, StoredRead

FINDING_HELP = f"""\
a finding (repeat for several; the findings given replace the draft's):
  SIDE TYPE [WORD]...   e.g. "{EXAMPLE}"
  SIDE   R or L
  TYPE   mass, calcifications, asymmetry, architectural distortion
         (or: distortion), other
  WORDS  in any order:
         BI-RADS lexicon descriptors of the type, hyphenated
           (oval, irregular, spiculated, fine-pleomorphic, segmental, ...)
           and associated features (skin-retraction, axillary-adenopathy, ...)
         size            12mm
         clock face      10, 10:00, 10:30, or retroareolar, central, axillary-tail
         depth           anterior, middle, posterior
         from the nipple 40mm{NIPPLE_SUFFIX}
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "read", help="save or sign the BI-RADS read of a library study",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Save the read of a study in the library as a draft, or sign it (--sign; a "
            "signed read is locked).  Options left out keep the draft's values.  Signing "
            "needs both breasts' assessment and density, a recommendation that agrees with "
            "the overall (most abnormal) assessment, a finding on each side assessed 3, "
            "4A-4C or 5, and none on a side assessed 1.", 78),
        epilog=FINDING_HELP)
    p.add_argument("uid", metavar="UID", help="the study instance UID (see: studies)")
    categories = ", ".join(ASSESSMENTS)
    for side in ("right", "left"):
        p.add_argument(f"--{side}", type=str.upper, choices=list(ASSESSMENTS), metavar="CAT",
                       help=f"BI-RADS assessment of the {side} breast: {categories}")
        p.add_argument(f"--density-{side}", type=str.lower, choices=list(DENSITY), metavar="D",
                       help=f"breast composition of the {side} breast: a, b, c or d")
    p.add_argument("--recommendation", type=str.lower, choices=list(RECOMMENDATIONS),
                   metavar="REC", help=f"management: {', '.join(RECOMMENDATIONS)}")
    p.add_argument("--finding", action="append", metavar="TEXT",
                   help="a finding, e.g. \"R mass oval circumscribed 12mm 10:00 middle\" "
                        "(see below)")
    p.add_argument("--no-findings", action="store_true",
                   help="remove the draft's findings")
    p.add_argument("--impression", metavar="TEXT", help="the impression, free text")
    p.add_argument("--reader", metavar="NAME",
                   help="who reads and signs (default: the reader.name setting)")
    p.add_argument("--sign", action="store_true", help="sign the read (it is locked after)")
    p.add_argument("--json", action="store_true", help="print the stored read as JSON")
    p.set_defaults(run=run)


def _reader(args: argparse.Namespace, paths: AppPaths) -> str:
    from engine.settings import Settings

    name = (args.reader or "").strip() or Settings(paths.config).get("reader.name").strip()
    if not name:
        raise MammoDeskError("no reader name: pass --reader NAME "
                             "(or set it once with: config set reader.name NAME)")
    return name


def _updated(read: Read, args: argparse.Namespace) -> Read:
    """The draft with the options given applied; the rest kept."""
    from engine.reading.finding_text import parse_finding

    birads, density = dict(read.birads), dict(read.density)
    for side, name in (("R", "right"), ("L", "left")):
        if getattr(args, name) is not None:
            birads[side] = getattr(args, name)
        if getattr(args, f"density_{name}") is not None:
            density[side] = getattr(args, f"density_{name}")
    findings = list(read.findings)
    if args.no_findings or args.finding:
        findings = [parse_finding(text) for text in args.finding or []]
    return replace(
        read, birads=birads, density=density, findings=findings,
        recommendation=args.recommendation or read.recommendation,
        impression=read.impression if args.impression is None else args.impression.strip(),
    )


def as_dict(stored: StoredRead) -> dict[str, object]:
    """The stored read as --json prints it."""
    from engine.reading.finding_text import format_finding

    read = stored.read
    assert read is not None  # a main read, never an addendum
    return {
        "id": stored.id, "study_uid": stored.study_uid, "reader": stored.reader,
        "created_at": stored.created_at, "signed_at": stored.signed_at,
        "birads": read.birads, "density": read.density, "overall": read.overall,
        "recommendation": read.recommendation,
        "findings": [asdict(f) | {"text": format_finding(f)} for f in read.findings],
        "impression": read.impression, "reading_time_s": read.reading_time_s,
        # What still stops a draft from being signed (empty once signed).
        "signoff_problems": [] if stored.signed else read.signoff_problems(),
    }


def _summary(stored: StoredRead) -> str:
    read = stored.read
    assert read is not None
    state = (f"signed by {stored.reader} at {stored.signed_at} (locked)" if stored.signed
             else f"draft saved by {stored.reader}")
    rec = read.recommendation or "-"
    return (f"{state}: right {read.birads['R'] or '-'}, left {read.birads['L'] or '-'}, "
            f"overall {read.overall or '-'}; density {read.density['R'] or '-'}/"
            f"{read.density['L'] or '-'}; recommendation {rec}; {len(read.findings)} finding(s)")


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.catalog import study_exists
    from engine.library.reads import Read, SignoffRefused, current_read, save_draft, sign

    with Library(paths.library) as lib:
        if not study_exists(lib, args.uid):
            raise MammoDeskError("no such study in the library (see: studies)")
        existing = current_read(lib, args.uid)
        if existing is not None and existing.signed:
            raise MammoDeskError("this study's read is signed and locked; it cannot be changed")
        reader = _reader(args, paths)
        read = _updated(existing.read if existing and existing.read else Read(), args)
        stored = save_draft(lib, args.uid, reader, read)
        if args.sign:
            try:
                stored = sign(lib, args.uid, reader)
            except SignoffRefused as refused:
                raise MammoDeskError(
                    f"cannot sign ({len(refused.problems)} problem(s); the draft is saved): "
                    + "; ".join(refused.problems)) from None
    if args.json:
        print_json(as_dict(stored))
    else:
        print(_summary(stored))
        if not stored.signed and (problems := read.signoff_problems()):
            print("to sign: " + "; ".join(problems))
    return ExitCode.OK
