"""The fuzz tier: mutants of real files through every entry point for a fixed time.

Run it with ``pytest -m fuzz`` (MAMMODESK_FUZZ_SECONDS, default 60; MAMMODESK_FUZZ_SEED to
repeat a run).  It fails listing each finding; each new one is kept in tests/fuzz/crashers/,
which tests/unit/test_fuzz_regressions.py replays in the fast tier.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.fuzz.campaign import Campaign
from tests.fuzz.runner import Runner
from tests.fuzz.seeds import build_seeds

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

SECONDS = float(os.environ.get("MAMMODESK_FUZZ_SECONDS", "60"))


@pytest.mark.fuzz
@pytest.mark.slow
@pytest.mark.timeout(SECONDS + 600)  # shrinking, hangs and worker restarts come on top
def test_mutated_files_meet_only_one_line_rejections(tmp_path: Path) -> None:
    seed = int(os.environ.get("MAMMODESK_FUZZ_SEED") or random.SystemRandom().getrandbits(32))
    with Runner() as runner:
        campaign = Campaign(runner, build_seeds(tmp_path), SECONDS, seed)
        campaign.learn_corpus()
        records = campaign.run()
        skipped = campaign.save()
    found = [r for r in records if r.count]
    lines = [f"{r.finding.line()} [{r.count}x; "
             f"{r.saved.name if r.saved else 'not saved'}; {r.mutant.describe()[:300]}]"
             for r in found]
    summary = (f"seed {seed}: {campaign.examples} files in {SECONDS:g} s, "
               f"{runner.restarts} worker restarts")
    assert not found, "\n".join([summary, *lines, *(f"not saved: {s}" for s in skipped)])
