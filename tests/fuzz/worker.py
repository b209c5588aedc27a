"""The fuzz worker: a long-lived process that puts each file through MammoDesk's entry points.

Run as ``python -m tests.fuzz.worker``.  Requests arrive on stdin as an 8-byte big-endian length
and the file's bytes; each answer is one JSON line on the original stdout (the library code
that runs here sees stdout pointed at stderr, so a stray print cannot break the protocol).

The targets run in the order a file meets them in the app: read (import), header and view
(import), the integrity check (import), full decode, the first-paint reduced decode (viewer),
AI preprocessing, de-identification (sync).  Every target after the read gets its own fresh
read, so one target's changes in place cannot hide another's failure.  What is acceptable:
MammoDeskError (and subclasses) with a one-line message, a None / one-line reason from
pixel_data_problem, the AI's NotApplicable with a one-line reason, and a de-identification
Outcome.  Anything else is a finding.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import struct
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROJECT_DIRS = tuple(str(ROOT / d) + os.sep for d in ("engine", "sync", "ui"))
MAX_MESSAGE = 400


def short_path(filename: str) -> str:
    """A frame's file relative to the repository, or to site-packages for libraries."""
    parts = Path(filename).parts
    cut = max((i for i, p in enumerate(parts) if p == "site-packages"), default=-1)
    if cut >= 0:
        return "/".join(parts[cut + 1:])
    try:
        return Path(filename).relative_to(ROOT).as_posix()
    except ValueError:
        return Path(filename).name


def _where(tb: Any) -> tuple[str, str]:
    """(innermost project frame, innermost frame) of a traceback, as path:line."""
    frames = traceback.extract_tb(tb)
    project = [f for f in frames if f.filename.startswith(PROJECT_DIRS)]

    def name(f: traceback.FrameSummary) -> str:
        return f"{short_path(f.filename)}:{f.lineno}"

    return (name(project[-1]) if project else "", name(frames[-1]) if frames else "")


class Targets:
    def __init__(self) -> None:
        from engine.ai.preprocess import InputSpec, NotApplicable, prepare
        from engine.dicom.header import instance_header
        from engine.dicom.integrity import pixel_data_problem
        from engine.dicom.pixels import decode_pixels
        from engine.dicom.reader import read_dataset
        from engine.display.decode import decode_level
        from engine.errors import MammoDeskError
        from sync.deid.deidentify import Deidentifier
        from sync.deid.keys import SiteKeys
        from sync.deid.profile import profile_named
        from tests.fuzz.seeds import SYNTHETIC_IDENTITY

        self.read = read_dataset
        self.accepted: tuple[type[BaseException], ...] = (MammoDeskError, NotApplicable)
        self.identity = SYNTHETIC_IDENTITY
        spec = InputSpec()
        deid = Deidentifier(profile_named("sync"), SiteKeys(secret=b"f" * 32, map_key=b"m" * 32))
        self.stages: list[tuple[str, Callable[[Any], Any]]] = [
            ("header", instance_header),
            ("integrity", pixel_data_problem),
            ("decode", decode_pixels),
            ("display", lambda ds: decode_level(ds, 0)),
            ("first-paint", lambda ds: decode_level(ds, 2)),
            ("ai", lambda ds: prepare(ds, spec)),
            ("deid", deid.run),
        ]

    def _message_problem(self, text: str) -> str | None:
        if not text.strip():
            return "empty message"
        if "\n" in text or "\r" in text:
            return "multi-line message"
        if len(text) > MAX_MESSAGE:
            return f"message of {len(text)} characters"
        if self.identity.search(text.encode("utf-8", "replace")):
            return "message carries the synthetic patient's name or ID"
        return None

    def _finding(self, stage: str, kind: str, reason: str, exc: BaseException | None) -> dict:
        where, innermost = _where(exc.__traceback__) if exc is not None else ("", "")
        return {"stage": stage, "kind": kind, "exc_type": type(exc).__name__ if exc else "",
                "reason": " ".join(reason.split())[:300], "where": where, "innermost": innermost}

    def _message(self, stage: str, text: str, exc: BaseException | None) -> dict | None:
        problem = self._message_problem(text)
        if problem is None:
            return None
        shown = self.identity.sub(b"<synthetic identity>", text.encode("utf-8", "replace"))
        return self._finding(stage, "message", f"{problem}: {shown.decode()[:200]}", exc)

    def _outcome(self, original: Any, outcome: Any) -> tuple[str | None, dict | None]:
        status = getattr(outcome, "status", None)
        if status not in ("clean", "quarantined", "blocked"):
            return None, self._finding("deid", "deid-output", f"status {status!r}", None)
        if status != "clean":
            text = f"{status}: {outcome.reason}"
            return text, self._message("deid", outcome.reason, None)
        known = [str(original.get(k, "") or "") for k in ("PatientName", "PatientID")]
        for value in known:
            if value and self.identity.search(value.encode()) and value.encode() in outcome.data:
                return None, self._finding("deid", "leak", "a clean de-identified file still "
                                           "holds the patient's name or ID", None)
        try:
            self.read(outcome.data)
        except Exception as exc:
            return None, self._finding("deid", "deid-output",
                                       f"the clean file does not read back: {exc}", exc)
        return None, None

    def run(self, data: bytes) -> dict:
        findings: list[dict] = []
        rejections: list[str] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ds = self.read(data)
            except self.accepted as exc:
                finding = self._message("read", str(exc), exc)
                return {"rejected": [f"read: {exc}"], "findings": [finding] if finding else []}
            except BaseException as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                return {"rejected": [], "findings": [
                    self._finding("read", "exception", str(exc), exc)]}
            for stage, target in self.stages:
                try:
                    ds = self.read(data)
                    original = _identity(ds) if stage == "deid" else {}
                    result = target(ds)
                except self.accepted as exc:
                    rejections.append(f"{stage}: {exc}")
                    finding = self._message(stage, str(exc), exc)
                except BaseException as exc:
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    finding = self._finding(stage, "exception", str(exc) or repr(exc), exc)
                else:
                    finding = None
                    if stage == "integrity" and result is not None:
                        rejections.append(f"{stage}: {result}")
                        finding = self._message(stage, str(result), None)
                    elif stage == "deid":
                        text, finding = self._outcome(original, result)
                        if text:
                            rejections.append(f"{stage}: {text}")
                if finding:
                    findings.append(finding)
        return {"rejected": rejections, "findings": findings}


def _identity(ds: Any) -> dict[str, Any]:
    """The patient's name and ID as read (before de-identification changes them)."""
    out = {}
    for keyword in ("PatientName", "PatientID"):
        try:
            out[keyword] = ds.get(keyword)
        except Exception:  # an undecodable value: nothing to look for
            out[keyword] = None
    return out


def _read_exact(stream: Any, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = stream.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # library output goes to stderr from now on
    # The parent asks for the stack (SIGUSR1) before it kills a hung or bloated worker.
    faulthandler.register(signal.SIGUSR1, all_threads=False)
    targets = Targets()
    answers.write(json.dumps({"ready": os.getpid()}) + "\n")
    source = sys.stdin.buffer
    while True:
        head = _read_exact(source, 8)
        if head is None:
            return
        (size,) = struct.unpack(">Q", head)
        data = _read_exact(source, size)
        if data is None:
            return
        answers.write(json.dumps(targets.run(data)) + "\n")


if __name__ == "__main__":
    main()
