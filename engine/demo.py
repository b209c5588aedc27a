"""The built-in synthetic demo study: made on first use, then reused.

One synthetic woman, four screening views plus a prior study a year
earlier, with a cancer in one breast so every part of the reading view has
something to show.  Deterministic: every installation gets the same study.
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.library import ImportReport, Library, import_paths
from engine.phantom import generate_cohort

DEMO_SEED = 20260
COHORT_DIR = "cohort"


@dataclass(frozen=True)
class DemoStudy:
    study_uid: str
    prior_study_uid: str | None
    folder: Path
    report: ImportReport


def ensure_demo_study(demo_root: Path, library: Library) -> DemoStudy:
    """Generate the demo study if missing, import it (idempotent), return its UIDs."""
    folder = demo_root / COHORT_DIR
    if not (folder / "labels.csv").is_file():
        demo_root.mkdir(parents=True, exist_ok=True)
        # generate beside the final place, then rename: a killed generation
        # never leaves a half study that later runs would reuse
        staging = Path(tempfile.mkdtemp(prefix=".demo-", dir=demo_root))
        try:
            generate_cohort(staging, 1, seed=DEMO_SEED, cancer_rate=1.0, size="default",
                            prior_rate=1.0)
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    report = import_paths(library, [folder])
    current, prior = _study_uids(folder / "labels.csv")
    return DemoStudy(current, prior, folder, report)


def _study_uids(labels: Path) -> tuple[str, str | None]:
    current = prior = None
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["is_prior"] in ("1", "true", "True"):
                prior = row["study_instance_uid"]
            else:
                current = row["study_instance_uid"]
    if current is None:
        raise RuntimeError("demo labels list no current study")
    return current, prior
