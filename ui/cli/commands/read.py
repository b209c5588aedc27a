"""``read UID``: the radiologist's BI-RADS read of a library study from the
command line: save a draft, or sign it with the same checks as the window.

Options left out keep the draft's current values, so a read can be built up
over several calls.  A signed read is locked.  Under double reading (setting
``reading.double_reading``) each reader builds and signs their own read, blind
to the other's; the output names the read's role and the study's stage
(engine/reading/double_reading.py)."""

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
    from engine.reading.double_reading import Stage

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
            "4A-4C or 5, and none on a side assessed 1.  Under double reading (config set "
            "reading.double_reading yes) each reader saves and signs their own read, blind "
            "to the other's; a third reader arbitrates a disagreement on recall.", 78),
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
    purpose = p.add_mutually_exclusive_group()
    purpose.add_argument("--screening", dest="exam", action="store_const", const="screening",
                         help="the exam is a screening one (the default for a new read)")
    purpose.add_argument("--diagnostic", dest="exam", action="store_const", const="diagnostic",
                         help="the exam is a diagnostic one (left out of the screening "
                              "audit's rates)")
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
        read, birads=birads, density=density, findings=findings, exam=args.exam or read.exam,
        recommendation=args.recommendation or read.recommendation,
        impression=read.impression if args.impression is None else args.impression.strip(),
    )


def as_dict(stored: StoredRead, stage: Stage | None = None) -> dict[str, object]:
    """The stored read as --json prints it (with the study's double-reading
    stage where it is read twice)."""
    from engine.reading.finding_text import format_finding

    read = stored.read
    assert read is not None  # a main read, never an addendum
    return {
        "id": stored.id, "study_uid": stored.study_uid, "reader": stored.reader,
        "created_at": stored.created_at, "signed_at": stored.signed_at, "role": stored.role,
        "exam": read.exam,
        "birads": read.birads, "density": read.density, "overall": read.overall,
        "recommendation": read.recommendation,
        "findings": [asdict(f) | {"text": format_finding(f)} for f in read.findings],
        "impression": read.impression, "reading_time_s": read.reading_time_s,
        # What still stops a draft from being signed (empty once signed).
        "signoff_problems": [] if stored.signed else read.signoff_problems(),
        "double_reading": None if stage is None or stored.role == "single"
        else stage.as_dict(),
    }


def _summary(stored: StoredRead) -> str:
    read = stored.read
    assert read is not None
    state = (f"signed by {stored.reader} at {stored.signed_at} (locked)" if stored.signed
             else f"draft saved by {stored.reader}")
    rec = read.recommendation or "-"
    if stored.role != "single":
        state = f"{stored.role} read {state}"
    return (f"{state}: {read.exam} exam; right {read.birads['R'] or '-'}, "
            f"left {read.birads['L'] or '-'}, overall {read.overall or '-'}; "
            f"density {read.density['R'] or '-'}/{read.density['L'] or '-'}; "
            f"recommendation {rec}; {len(read.findings)} finding(s)")


def _double(paths: AppPaths) -> bool:
    from engine.settings import Settings

    return Settings(paths.config).effective("reading.double_reading").value == "yes"


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    from engine.library import Library
    from engine.library.catalog import study_exists
    from engine.library.double_reads import others_visible, read_of, stage
    from engine.library.reads import Read, SignoffRefused, save_draft, sign
    from engine.reading.double_reading import summary

    double = _double(paths)
    with Library(paths.library) as lib:
        if not study_exists(lib, args.uid):
            raise MammoDeskError("no such study in the library (see: studies)")
        reader = _reader(args, paths)
        existing = read_of(lib, args.uid, reader, double=double)
        # Under double reading the engine says why (one reader cannot read twice).
        if existing is not None and existing.signed and existing.role == "single":
            raise MammoDeskError("this study's read is signed and locked; it cannot be changed")
        read = _updated(existing.read if existing and existing.read else Read(), args)
        stored = save_draft(lib, args.uid, reader, read, double=double)
        if args.sign:
            try:
                stored = sign(lib, args.uid, reader, double=double)
            except SignoffRefused as refused:
                raise MammoDeskError(
                    f"cannot sign ({len(refused.problems)} problem(s); the draft is saved): "
                    + "; ".join(refused.problems)) from None
        now = stage(lib, args.uid)
        others = [summary(r) for r in others_visible(lib, args.uid, reader)]
    if args.json:
        shown = as_dict(stored, now)
        if shown["double_reading"] is not None:
            shown["double_reading"] |= {"other_reads": others}  # type: ignore[operator]
        print_json(shown)
    else:
        print(_summary(stored))
        if stored.role != "single":
            print(f"double reading: {now.name}"
                  + ("" if now.recall is None else
                     f"; decided: {'recall' if now.recall else 'no recall'}"))
            for line in others:
                print(line)
        if not stored.signed and (problems := read.signoff_problems()):
            print("to sign: " + "; ".join(problems))
    return ExitCode.OK
