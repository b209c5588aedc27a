"""A fuzzing campaign: Hypothesis draws mutants for a fixed time; findings go to crashers/.

Hypothesis stops at the first failing example and shrinks it, so the property only fails for a
finding not seen before, and only for the cheap kinds (an exception or a bad message takes
milliseconds to reproduce; a hang takes ten seconds): those are shrunk for a few seconds, then
the campaign starts a fresh Hypothesis run with the next seed and goes on until time is up.
Findings are de-duplicated by kind, exception type and the innermost project frame.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Flaky

from tests.fuzz.mutators import Mutant, Seed, mutants
from tests.fuzz.runner import Finding, Runner

CORPUS = Path(__file__).resolve().parent / "crashers"
MAX_FILES = 60
MAX_BYTES = 2 * 1024 * 1024
SHRINK_S = 20.0
BATCH = 200
CHEAP = frozenset({"exception", "message", "leak", "deid-output", "stderr"})


class _NewFinding(Exception):
    """Raised inside the property so that Hypothesis shrinks the example."""


@dataclass
class Record:
    finding: Finding
    mutant: Mutant
    known: bool  # the corpus already holds a file for this defect
    count: int = 1
    saved: Path | None = None


@dataclass
class Campaign:
    runner: Runner
    seeds: Sequence[Seed]
    seconds: float
    seed: int
    corpus: Path = CORPUS
    records: dict[tuple[str, ...], Record] = field(default_factory=dict)
    examples: int = 0
    _deadline: float = 0.0
    _shrinking: tuple[str, ...] | None = None
    _shrink_until: float = 0.0
    _failing: set[bytes] = field(default_factory=set)

    def learn_corpus(self) -> None:
        """Signatures of the files already kept: not saved a second time."""
        for path in sorted(self.corpus.glob("*.dcm")):
            for finding in self.runner.check(path.read_bytes()).findings:
                self.records.setdefault(finding.signature, Record(
                    finding, Mutant(path.name, (), b""), known=True, count=0, saved=path))

    def _check(self, mutant: Mutant) -> None:
        now = time.monotonic()
        if self._shrinking is not None and now > self._shrink_until:
            if mutant.data in self._failing:  # Hypothesis replays its best example
                raise _NewFinding
            return
        if self._shrinking is None and now > self._deadline:
            return
        verdict = self.runner.check(mutant.data)
        self.examples += 1
        fail = False
        for finding in verdict.findings:
            sig = finding.signature
            record = self.records.get(sig)
            if record is None:
                self.records[sig] = record = Record(finding, mutant, known=False, count=0)
                if self._shrinking is None and finding.kind in CHEAP:
                    self._shrinking, self._shrink_until = sig, now + SHRINK_S
                    self._failing = set()
            record.count += 1
            if not record.known and _smaller(mutant, record.mutant):
                record.mutant, record.finding = mutant, finding  # the corpus has a byte budget
            if sig == self._shrinking:
                fail = True
        if fail:
            self._failing.add(mutant.data)
            raise _NewFinding

    def run(self) -> list[Record]:
        self._deadline = time.monotonic() + self.seconds
        rng = random.Random(self.seed)
        while time.monotonic() < self._deadline:
            self._shrinking = None

            @settings(max_examples=BATCH, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                      phases=[Phase.generate, Phase.shrink], print_blob=False)
            @hypothesis_seed(rng.getrandbits(64))
            @given(mutants(self.seeds))
            def property_(mutant: Mutant) -> None:
                self._check(mutant)

            with contextlib.suppress(_NewFinding, Flaky):
                property_()
        return list(self.records.values())

    def save(self) -> list[str]:
        """Write each new finding's smallest mutant; what could not be saved, and why."""
        self.corpus.mkdir(exist_ok=True)
        files = list(self.corpus.glob("*.dcm"))
        used = sum(p.stat().st_size for p in files)
        skipped = []
        for record in sorted(self.records.values(), key=lambda r: len(r.mutant.data)):
            if record.known:
                continue
            data = record.mutant.data
            if len(files) >= MAX_FILES or used + len(data) > MAX_BYTES:
                skipped.append(f"{record.finding.line()} (corpus full)")
                continue
            digest = hashlib.sha1(data).hexdigest()[:12]
            path = self.corpus / f"{record.finding.kind}-{digest}.dcm"
            path.write_bytes(data)
            record.saved = path
            files.append(path)
            used += len(data)
        return skipped


def _smaller(a: Mutant, b: Mutant) -> bool:
    return (len(a.data), len(a.operations)) < (len(b.data), len(b.operations))
