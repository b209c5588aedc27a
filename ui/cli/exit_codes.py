"""The command line's exit statuses, and the one mapping from an exception to
the line a user reads and the status the shell sees.

===  =============  ========================================================
0    OK             done
1    PARTIAL        done, but something needs a look: an import rejected files,
                    anonymize blocked or could not read some, sync left objects
                    failed (each is listed, or shown by ``sync --status``)
2    USER_ERROR     the input or the configuration is wrong (one line says what)
3    OFFLINE        ``sync --once``, ``models check``: the cloud or the model
                    repository cannot be reached; nothing is lost
70   INTERNAL       a fault in MammoDesk (details in the log), as sysexits
                    EX_SOFTWARE
74   IO_ERROR       the operating system refused a read or write (permissions,
                    a missing device, ...), as sysexits EX_IOERR
130  INTERRUPTED    stopped with Ctrl-C (128 + SIGINT)
141  OUTPUT_CLOSED  the reader of stdout went away before everything was
                    written (``studies --json | head -1``): MammoDesk stops
                    quietly, with nothing on stderr, and exits as a program
                    killed by SIGPIPE does in the shell (128 + SIGPIPE, what
                    ``yes | head -1`` reports for ``yes``)
===  =============  ========================================================
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

from engine.errors import MammoDeskError


class ExitCode(IntEnum):
    OK = 0
    PARTIAL = 1
    USER_ERROR = 2
    OFFLINE = 3
    INTERNAL = 70
    IO_ERROR = 74
    INTERRUPTED = 130
    OUTPUT_CLOSED = 141


def broken_pipe(exc: BaseException) -> bool:
    """Whether exc is, or was raised while handling or because of, a broken pipe
    (a command may wrap the write that failed in an error of its own)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, BrokenPipeError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def describe_failure(exc: BaseException, log_file: Path | None) -> tuple[str, ExitCode]:
    """The one line to print (without the program name) and the exit status."""
    if isinstance(exc, MammoDeskError):
        return f"error: {exc}", ExitCode.USER_ERROR
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", ExitCode.INTERRUPTED
    if isinstance(exc, OSError):
        # The reason only: a file's name may carry patient data (the log has the rest).
        return f"error: {exc.strerror or type(exc).__name__}", ExitCode.IO_ERROR
    where = f"; details are in {log_file}" if log_file else ""
    return f"internal error{where}", ExitCode.INTERNAL
