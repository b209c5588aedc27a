"""Worker processes that end when the process that started them ends.

A pool's workers wait on a pipe their parent feeds; killed hard (kill -9,
the OOM killer, a crash), the parent never tells them to stop, and forked
workers hold the pipe's other end themselves, so they would wait, or go
on with work in hand (writing files), for ever.  ``exit_with_parent()``,
called first thing in a worker (a pool initializer), ends the worker when
its parent goes: at once on Linux (the kernel's parent-death signal), and
within a fraction of a second elsewhere (a thread that watches the parent).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
POLL_S = 0.25


def _parent_death_signal() -> bool:
    """Ask Linux for SIGKILL when the parent goes; False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int, poll_s: float) -> None:
    while True:
        time.sleep(poll_s)
        if os.getppid() != parent:  # re-parented: the parent is gone
            os._exit(1)


@dataclass(frozen=True)
class Parent:
    """The starting process, as its workers need to know it."""

    pid: int
    main_thread: bool  # started from the main thread: the kernel signal is safe


def this_process() -> Parent:
    """Called where a pool is started; its result goes to the workers' initializer."""
    return Parent(os.getpid(), threading.current_thread() is threading.main_thread())


def exit_with_parent(parent: Parent | None = None, *, poll_s: float = POLL_S) -> None:
    """End this process (no clean-up, like a kill) when its parent process ends.

    ``parent``: ``this_process()`` as the parent took it, which also catches a
    parent that went before this was called; by default the current parent.
    Linux's parent-death signal fires when the *thread* that started this
    process ends, so it is asked for only when that was the main thread (a
    pool started from a passing thread relies on the watching thread alone).
    """
    parent = parent or Parent(os.getppid(), main_thread=True)
    if parent.main_thread:
        _parent_death_signal()
    if os.getppid() != parent.pid:
        os._exit(1)  # the parent went before the signal was asked for
    threading.Thread(target=_watch, args=(parent.pid, poll_s), name="parent-watch",
                     daemon=True).start()
