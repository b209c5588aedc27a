"""Evaluation of the malignancy model: metrics with bootstrap confidence
intervals, FROC, calibration, plots, an evaluation report and a model card.

Pure numpy and matplotlib (object-oriented API); no TensorFlow needed.
"""

from engine.ai.evaluation.card import render_model_card
from engine.ai.evaluation.froc import FrocImage, froc_curve, lesion_hits, sensitivity_at_fp
from engine.ai.evaluation.metrics import (
    MIN_CASES_PER_CLASS,
    EvaluationError,
    bootstrap_auc_ci,
    calibration,
    few_cases_warning,
    roc_auc,
    roc_curve,
    sensitivity_at_specificity,
)
from engine.ai.evaluation.report import BreastPrediction, evaluate_predictions

__all__ = [
    "MIN_CASES_PER_CLASS",
    "BreastPrediction",
    "EvaluationError",
    "FrocImage",
    "bootstrap_auc_ci",
    "calibration",
    "evaluate_predictions",
    "few_cases_warning",
    "froc_curve",
    "lesion_hits",
    "render_model_card",
    "roc_auc",
    "roc_curve",
    "sensitivity_at_fp",
    "sensitivity_at_specificity",
]
