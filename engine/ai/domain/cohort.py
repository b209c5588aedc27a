"""Running the model over generated studies: features and statistics per view
(to fit the check), and the check's verdict per study (to validate it).

Studies are rendered and prepared in worker processes; the forward pass runs
here, one study (both breasts) per call, as the workstation does.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from engine.ai.domain.acquisition import acquisition_stats
from engine.ai.domain.check import DomainCheck, DomainVerdict, study_flagged
from engine.ai.domain.fit import ViewSample
from engine.ai.domain.inputs import Job, PreparedView, StudyInput, study_input
from engine.ai.runtime import FEATURE_NAMES, Runtime


@dataclass
class StudyOutcome:
    study: str
    kind: str
    samples: list[ViewSample]  # analysed views (both views of a breast prepared)
    refused: list[str]  # why other views were not analysed
    verdicts: list[DomainVerdict] = field(default_factory=list)

    @property
    def analysed(self) -> bool:
        return bool(self.samples)

    @property
    def flagged(self) -> bool:
        return study_flagged(self.verdicts)

    def judge(self, check: DomainCheck) -> StudyOutcome:
        """The check's verdicts on the analysed views (replacing any earlier ones)."""
        self.verdicts = [check.verdict(s.position, s.features, s.stats) for s in self.samples]
        return self


def _image(view: PreparedView) -> np.ndarray:
    assert view.prepared is not None
    return view.prepared.image


def analyse_study(si: StudyInput, runtime: Runtime, check: DomainCheck | None) -> StudyOutcome:
    """One prepared study through the model (and the check, when given)."""
    out = StudyOutcome(si.study, si.kind, [], [v.reason for v in si.views if v.reason])
    pairs = []
    for side in ("R", "L"):
        by = {v.position: v for v in si.views if v.laterality == side and v.prepared is not None}
        if "CC" in by and "MLO" in by:
            pairs.append((by["CC"], by["MLO"]))
    if not pairs:
        return out
    cc = np.stack([_image(c) for c, _ in pairs])[..., None]
    mlo = np.stack([_image(m) for _, m in pairs])[..., None]
    res = runtime.predict(cc, mlo)
    if not set(FEATURE_NAMES) <= set(res):
        raise ValueError(f"model {runtime.package.describe()} returns no features")
    for j, pair in enumerate(pairs):
        for view, key in zip(pair, FEATURE_NAMES, strict=True):
            feats = np.asarray(res[key][j], dtype=np.float64)
            stats = acquisition_stats(_image(view))
            out.samples.append(ViewSample(si.study, view.position, feats, stats))
            if check is not None:
                out.verdicts.append(check.verdict(view.position, feats, stats))
    return out


def run_jobs(
    runtime: Runtime,
    jobs: Sequence[Job],
    work: Path,
    check: DomainCheck | None = None,
    workers: int = 2,
) -> Iterator[StudyOutcome]:
    """Each job's study, rendered and prepared in ``workers`` processes, through the model."""
    make = partial(study_input, work=Path(work), spec=runtime.spec)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for si in pool.map(make, jobs, chunksize=1):
            yield analyse_study(si, runtime, check)
