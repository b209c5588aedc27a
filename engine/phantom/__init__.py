"""Synthetic screening-mammography cohort generator (four-view studies,
optional priors, lesion labels).  Synthetic data only: not for clinical use.
"""

from engine.phantom.cohort import CohortResult, generate_cohort
from engine.phantom.presets import SIZE_PRESETS, SizePreset

__all__ = ["SIZE_PRESETS", "CohortResult", "SizePreset", "generate_cohort"]
