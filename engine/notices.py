"""The one wording of the notice every place that shows model output carries."""

from __future__ import annotations

# The shipped model has seen synthetic images only (README, "Intended use").
NOT_FOR_CLINICAL_USE = "Synthetic-data model, not for clinical use."
# The short form, where a line has little room (status bar, SR series, overlay).
NOT_FOR_CLINICAL_USE_SHORT = "not for clinical use"


def with_notice(text: str) -> str:
    """`text` followed by the short notice: "AI marks - not for clinical use"."""
    return f"{text} - {NOT_FOR_CLINICAL_USE_SHORT}"
