"""generate_cohort: the public entry point of the phantom package."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.errors import MammoDeskError
from engine.phantom.labels import write_labels
from engine.phantom.plan import plan_study
from engine.phantom.presets import SIZE_PRESETS
from engine.phantom.study import render_exam

PHOTOMETRICS = ("MONOCHROME2", "MONOCHROME1")


@dataclass
class CohortResult:
    out_dir: Path
    files: list[Path]  # every DICOM file written
    labels_csv: Path
    studies: int  # number of current (non-prior) studies


def _validate(
    studies: int, seed: int, cancer_rate: float, size: str, prior_rate: float, photometric: str
) -> None:
    if isinstance(studies, bool) or not isinstance(studies, int) or studies < 1:
        raise MammoDeskError(f"studies must be a whole number of at least 1, got {studies!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise MammoDeskError(f"seed must be a non-negative whole number, got {seed!r}")
    if not 0.0 <= float(cancer_rate) <= 1.0:
        raise MammoDeskError(f"cancer rate must be between 0 and 1, got {cancer_rate!r}")
    if not 0.0 <= float(prior_rate) <= 1.0:
        raise MammoDeskError(f"prior rate must be between 0 and 1, got {prior_rate!r}")
    if size not in SIZE_PRESETS:
        known = ", ".join(SIZE_PRESETS)
        raise MammoDeskError(f"unknown phantom size {size!r}; use one of: {known}")
    if photometric not in PHOTOMETRICS:
        raise MammoDeskError(f"photometric must be MONOCHROME1 or MONOCHROME2, got {photometric!r}")


def generate_cohort(
    out_dir: Path,
    studies: int,
    *,
    seed: int = 0,
    cancer_rate: float = 0.3,
    size: str = "default",
    prior_rate: float = 0.0,
    photometric: str = "MONOCHROME2",
    jpeg2000: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CohortResult:
    """Write ``studies`` synthetic four-view screening studies (plus priors
    for a ``prior_rate`` fraction) and labels.csv under ``out_dir``.

    Same arguments -> byte-identical pixel data and identical UIDs.
    """
    _validate(studies, seed, cancer_rate, size, prior_rate, photometric)
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MammoDeskError(f"cannot create output folder {out_dir}: {exc.strerror}") from exc
    preset = SIZE_PRESETS[size]
    # Everything that changes pixel content goes into the UID entropy, so two
    # different cohorts never share a SOP Instance UID.
    uid_keys = [
        "mammodesk-phantom-v1",
        str(seed),
        size,
        photometric,
        "j2k" if jpeg2000 else "raw",
        repr(float(cancer_rate)),
    ]
    files: list = []
    rows: list[dict[str, object]] = []
    try:
        for k in range(studies):
            plan = plan_study(seed, k, float(cancer_rate), float(prior_rate))
            study_id = f"MDP-{seed}-{k + 1:04d}"
            f, r = render_exam(
                plan, plan.current, study_id, out_dir, preset, photometric, jpeg2000, uid_keys, seed
            )
            files += f
            rows += r
            if plan.prior is not None:
                f, r = render_exam(
                    plan,
                    plan.prior,
                    f"{study_id}-prior",
                    out_dir,
                    preset,
                    photometric,
                    jpeg2000,
                    uid_keys,
                    seed,
                )
                files += f
                rows += r
            if progress is not None:
                progress(k + 1, studies)
        labels = out_dir / "labels.csv"
        write_labels(labels, rows)
    except OSError as exc:
        raise MammoDeskError(f"cannot write phantom output in {out_dir}: {exc.strerror}") from exc
    return CohortResult(out_dir=out_dir, files=files, labels_csv=labels, studies=studies)
