"""What the commands print: one JSON document for ``--json``, one-line notes
on stderr, and the small text formats several commands share."""

from __future__ import annotations

import json
import sys

from engine.notices import NOT_FOR_CLINICAL_USE_SHORT

PROG = "mammodesk"
NOT_CLINICAL = f"synthetic-trained model, {NOT_FOR_CLINICAL_USE_SHORT}"


def print_json(document: object) -> None:
    """The whole answer of a ``--json`` command: one JSON document on stdout."""
    json.dump(document, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """One line on stderr, prefixed with the program's name."""
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def show_progress() -> bool:
    """Progress counters only for a person watching a terminal."""
    return sys.stderr.isatty()
