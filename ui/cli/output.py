"""What the commands print: one JSON document for ``--json``, one-line notes
on stderr, and the small text formats several commands share; and what
happens when the reader of stdout goes away (``mammodesk studies | head``)."""

from __future__ import annotations

import json
import os
import select
import sys
from typing import TextIO

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


def stdout_closed() -> bool:
    """Whether nothing reads stdout any more (a pipe whose reader has exited).

    Asked of the operating system, so a broken pipe elsewhere (a socket, a
    child process) is not mistaken for it.  Where poll() is missing (Windows)
    a broken pipe is taken to be stdout's.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # not a real file (a test's capture): never closed under us
    if not hasattr(select, "poll"):
        return True
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    closed = select.POLLERR | select.POLLHUP
    return any(events & closed for _fd, events in poller.poll(0))


def discard_output(stream: TextIO | None = None) -> None:
    """Point stdout (or stream, e.g. stderr) at the null device: what is still
    buffered there, flushed when the interpreter exits, then goes nowhere
    instead of failing again (Python's documentation, "Note on SIGPIPE")."""
    stream = sys.stdout if stream is None else stream
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
