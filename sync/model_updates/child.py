"""The model update cycle in a process of its own, for the window.

The cycle (sync.model_updates.cycle) runs for up to a minute, loads two AI
models and holds Python's global lock for long stretches; in the window's
process it would make the window stutter.  The window starts ``run`` in a
spawned process instead; it sends what it does back through a queue, as
plain tuples (everything crosses by pickle):

    ("progress", stage, done, total)   any number of times
    ("done", outcome)                  the CheckOutcome's fields as a dict
    ("error", kind, line)              the error's class name and one line

A process that ends without "done" or "error" stopped unexpectedly (a crash,
or the window stopping it).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
from typing import Any, Protocol

from engine.errors import MammoDeskError
from engine.parent_watch import Parent, exit_with_parent
from engine.paths import AppPaths

log = logging.getLogger(__name__)
CYCLE = "sync.model_updates.cycle:check_and_accept"


class Sink(Protocol):
    def put(self, item: Any) -> None: ...


def one_line(text: object, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def load(target: str) -> Any:
    """The function named ``module:function``."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def as_dict(outcome: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(outcome) and not isinstance(outcome, type):
        return dataclasses.asdict(outcome)
    return dict(outcome)


def run(target: str, paths: AppPaths, settings: dict[str, str], out: Sink,
        parent: Parent | None = None) -> None:
    """Process entry point: ``target(paths, settings, progress)`` (by default
    the cycle's check_and_accept), its progress, outcome or error sent to ``out``."""
    exit_with_parent(parent)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    def progress(stage: str, done: int, total: int) -> None:
        out.put(("progress", str(stage), int(done), int(total)))

    try:
        outcome = as_dict(load(target)(paths, settings, progress))
    except MammoDeskError as exc:
        out.put(("error", type(exc).__name__, one_line(exc)))
    except OSError as exc:  # a full disk, a folder that cannot be written
        log.warning("the model check failed: %s", exc.strerror or type(exc).__name__)
        out.put(("error", type(exc).__name__, one_line(
            f"the model check failed: {(exc.strerror or str(exc)).lower()}")))
    except Exception as exc:
        log.exception("the model check failed")
        out.put(("error", type(exc).__name__,
                 one_line(f"internal error: {type(exc).__name__}: {exc}")))
    else:
        out.put(("done", outcome))
