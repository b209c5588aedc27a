"""Feed files to the fuzz worker in a child process, with a time limit and a memory ceiling.

A crash, a hang or a memory blow-up in the worker cannot take the test process down: the
parent waits for each answer at most TIME_LIMIT_S seconds while polling the worker's resident
memory from /proc (RLIMIT_AS is no use: numpy and friends reserve address space they never
touch), kills it past the limit or the ceiling, and starts a fresh one for the next file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.fuzz.worker import short_path

ROOT = Path(__file__).resolve().parents[2]
TIME_LIMIT_S = 10.0
MEMORY_CEILING_MB = 1536
POLL_S = 0.01
START_TIMEOUT_S = 120.0
_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
PROJECT_DIRS = tuple(str(ROOT / d) + os.sep for d in ("engine", "sync", "ui"))


@dataclass(frozen=True)
class Finding:
    kind: str  # exception | message | leak | deid-output | stderr | hang | memory | crash
    stage: str
    exc_type: str
    reason: str
    where: str  # innermost engine/sync/ui frame, path:line
    innermost: str  # innermost frame of all (often inside pydicom or a decoder)

    @property
    def signature(self) -> tuple[str, str, str, str]:
        """What makes two findings the same defect."""
        return (self.kind, self.stage if not self.where else "", self.exc_type, self.where)

    def line(self) -> str:
        place = self.where or self.innermost or "-"
        exc = f" {self.exc_type}" if self.exc_type else ""
        return f"{self.kind}{exc} in {self.stage} at {place}: {self.reason}"


@dataclass
class Verdict:
    rejected: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    @property
    def summary(self) -> str:
        """'ok', 'rejected: <first reason>' or 'finding: ...' in one line."""
        if self.findings:
            return "finding: " + self.findings[0].line()
        if self.rejected:
            return "rejected: " + self.rejected[0]
        return "ok"


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


class Runner:
    """One worker process at a time; restarted after it dies or is killed."""

    def __init__(self, time_limit_s: float = TIME_LIMIT_S,
                 ceiling_mb: float = MEMORY_CEILING_MB) -> None:
        self.time_limit_s = time_limit_s
        self.ceiling_mb = ceiling_mb
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stderr: tempfile._TemporaryFileWrapper[bytes] | None = None

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "MKL_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
        if self._stderr is not None:
            self._stderr.close()
        # The worker's stderr: where faulthandler writes the stack of a crash, or of a hang
        # or blow-up when asked (SIGUSR1) before the kill.
        self._stderr = tempfile.NamedTemporaryFile(prefix="fuzz-worker-", suffix=".log")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.worker"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            preexec_fn=_no_core_dumps,
        )
        assert proc.stdout is not None
        ready, _ = self._answer(proc, START_TIMEOUT_S)
        if ready is None or "ready" not in ready:
            _kill(proc)
            raise RuntimeError("the fuzz worker did not start")
        return proc

    def _answer(self, proc: subprocess.Popen[bytes], limit: float,
                peak: list[float] | None = None) -> tuple[dict | None, str]:
        """The next JSON line, or (None, 'hang' | 'memory' | 'crash')."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + limit
        buf = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None, "hang"
            readable, _, _ = select.select([fd], [], [], min(POLL_S, left))
            if readable:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return None, "crash"
                buf += chunk
                if buf.endswith(b"\n"):
                    return json.loads(buf), ""
            rss = _rss_mb(proc.pid)
            if peak is not None:
                peak[0] = max(peak[0], rss)
            if rss > self.ceiling_mb:
                return None, "memory"

    def check(self, data: bytes) -> Verdict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        proc = self.proc
        assert proc.stdin is not None
        started = time.monotonic()
        log_start = os.fstat(self._stderr.fileno()).st_size if self._stderr else 0
        peak = [0.0]
        try:
            proc.stdin.write(struct.pack(">Q", len(data)) + data)
            proc.stdin.flush()
        except BrokenPipeError:
            answer, failure = None, "crash"
        else:
            answer, failure = self._answer(proc, self.time_limit_s, peak)
        verdict = Verdict(seconds=time.monotonic() - started, peak_rss_mb=peak[0])
        if answer is not None:
            verdict.rejected = answer["rejected"]
            verdict.findings = [Finding(**f) for f in answer["findings"]]
            printed = self._printed(log_start)
            if printed:
                # A native library writing to the terminal (a Rust panic message, a C decoder's
                # complaint) puts more than one line in front of the user.
                verdict.findings.append(Finding(
                    "stderr", re.sub(r"\d+", "N", printed)[:80], "",
                    f"printed on the terminal: {printed[:160]}", "", ""))
            return verdict
        code = proc.poll()
        if code is None:  # hang or memory: ask for the stack first
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
        _kill(proc)
        where, innermost = self._stack(log_start)
        self.proc = None
        self.restarts += 1
        reason = {
            "hang": f"no answer within {self.time_limit_s:g} s",
            "memory": f"resident memory above {self.ceiling_mb:g} MB",
            "crash": f"the worker died ({_exit_text(code if code is not None else proc.wait())})",
        }[failure]
        verdict.findings = [Finding(failure, "", "", reason, where, innermost)]
        return verdict

    def _printed(self, offset: int) -> str:
        """The first line written to the worker's stderr since offset, or ''."""
        if self._stderr is None:
            return ""
        with open(self._stderr.name, "rb") as fh:
            fh.seek(offset)
            text = fh.read(4096).decode("utf-8", "replace")
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[0] if lines else ""

    def _stack(self, offset: int) -> tuple[str, str]:
        """(innermost project frame, innermost frame) of the last stack dump in the log."""
        if self._stderr is None:
            return "", ""
        with open(self._stderr.name, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode("utf-8", "replace")
        dumps = text.split("most recent call first")
        if len(dumps) < 2:
            return "", ""
        frames = _FRAME.findall(dumps[-1])  # innermost first
        project = [f for f in frames if f[0].startswith(PROJECT_DIRS)]

        def name(frame: tuple[str, str]) -> str:
            return f"{short_path(frame[0])}:{frame[1]}"

        return (name(project[0]) if project else "", name(frames[0]) if frames else "")

    def close(self) -> None:
        if self.proc is not None:
            _kill(self.proc)
            self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


def _no_core_dumps() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _exit_text(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"
