"""What a study contains, decided from the seed before any pixel is made.

Study k draws everything from SeedSequence(seed, spawn_key=(k,)), so study k
is the same whatever the number of studies requested.  Every decision is
drawn unconditionally (e.g. a uniform number compared with cancer_rate) so
changing one rate does not reshuffle unrelated draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine.phantom.geometry import BreastShape, perturb_shape, sample_shape
from engine.phantom.lesions import (
    BENIGN_TYPES,
    CANCER_TYPES,
    Lesion,
    in_density,
    sample_lesion,
    shrink_for_prior,
)
from engine.phantom.render import DENSITY_PARAMS

DENSITIES = ("a", "b", "c", "d")
_DENSITY_P = (0.15, 0.35, 0.35, 0.15)
_BENIGN_RATE = 0.2  # benign finding per breast without cancer
_PRIOR_CANCER_ABSENT = 0.5
VIEWS = ("RCC", "LCC", "RMLO", "LMLO")


@dataclass
class ExamPlan:
    """One four-view exam (current or prior) of one woman."""

    is_prior: bool
    shapes: dict[str, BreastShape]  # by laterality
    lesions: dict[str, Lesion | None]
    texture_seeds: dict[str, np.random.SeedSequence]  # by view name, e.g. "RCC"
    prior_mix_seeds: dict[str, np.random.SeedSequence] | None
    noise_seed: np.random.SeedSequence
    day_offset: int  # days before the current exam


@dataclass
class StudyPlan:
    index: int
    density: str
    beta: float
    anisotropy: float
    bits: int
    age: int
    thickness_mm: float
    day: int  # days after the cohort's base date
    minute: int  # minutes after 08:00
    current: ExamPlan = field(repr=False)
    prior: ExamPlan | None = field(repr=False, default=None)


def plan_study(seed: int, k: int, cancer_rate: float, prior_rate: float) -> StudyPlan:
    ss = np.random.SeedSequence(seed, spawn_key=(k,))
    woman_ss, lesion_ss, prior_ss, tex_ss, noise_ss, mix_ss = ss.spawn(6)
    rng = np.random.default_rng(woman_ss)
    density = str(rng.choice(DENSITIES, p=_DENSITY_P))
    beta = float(rng.uniform(2.5, 3.5))
    anisotropy = float(rng.uniform(1.0, 1.4))
    bits = int(rng.choice([12, 14]))
    age = int(rng.integers(40, 75))
    thickness = float(rng.uniform(35.0, 70.0))
    day = int(rng.integers(0, 730))
    minute = int(rng.integers(0, 600))
    shape = sample_shape(rng)
    shapes = {"L": shape, "R": perturb_shape(shape, rng)}  # mild asymmetry

    lrng = np.random.default_rng(lesion_ss)
    has_cancer = lrng.random() < cancer_rate
    cancer_side = "R" if lrng.random() < 0.5 else "L"
    cancer_kind = CANCER_TYPES[int(lrng.integers(0, len(CANCER_TYPES)))]
    mean_fib = DENSITY_PARAMS[density][0]
    cancer = in_density(sample_lesion(lrng, cancer_kind), mean_fib)
    lesions: dict[str, Lesion | None] = {}
    for side in ("R", "L"):
        benign_u, benign_k = lrng.random(), int(lrng.integers(0, len(BENIGN_TYPES)))
        benign = in_density(sample_lesion(lrng, BENIGN_TYPES[benign_k]), mean_fib)
        if has_cancer and side == cancer_side:
            lesions[side] = cancer
        elif benign_u < _BENIGN_RATE:
            lesions[side] = benign
        else:
            lesions[side] = None

    tex = dict(zip(VIEWS, tex_ss.spawn(4), strict=True))
    cur_noise, prior_noise = noise_ss.spawn(2)
    current = ExamPlan(False, shapes, lesions, tex, None, cur_noise, 0)
    plan = StudyPlan(k, density, beta, anisotropy, bits, age, thickness, day, minute, current)

    prng = np.random.default_rng(prior_ss)
    has_prior = prng.random() < prior_rate
    absent_u = prng.random()
    prior_shapes = {s: perturb_shape(sh, prng) for s, sh in shapes.items()}
    prior_lesions: dict[str, Lesion | None] = {}
    for side, les in lesions.items():
        shrunk = shrink_for_prior(les, prng) if les is not None else None
        if les is None or not les.cancer:
            prior_lesions[side] = les  # benign findings are stable
        else:
            prior_lesions[side] = None if absent_u < _PRIOR_CANCER_ABSENT else shrunk
    if has_prior:
        mix = dict(zip(VIEWS, mix_ss.spawn(4), strict=True))
        days = 365 + int(prng.integers(-20, 21))
        plan.prior = ExamPlan(True, prior_shapes, prior_lesions, tex, mix, prior_noise, days)
    return plan
