"""Coded concepts MammoDesk's SRs write that pydicom's code dictionary lacks or words otherwise,
and the code tables both SRs share.

Every other concept comes as it is from ``pydicom.sr.codedict`` (pydicom's copy of PS3.16),
written where it is used: ``codes.DCM.StudyDate``, ``codes.SCT.RightBreast``.  Here are only

- concepts the dictionary lacks, typed out from PS3.16, and
- concepts it has whose meaning the SRs write in other words: value and scheme come from the
  dictionary, the meaning is given here.
"""

from __future__ import annotations

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code


def _worded(concept: Code, meaning: str) -> Code:
    """``concept`` (from pydicom's dictionary) with the meaning the SRs write."""
    return concept._replace(meaning=meaning)


# --- not in pydicom's dictionary ----------------------------------------------------------------
ENGLISH_US = Code("en-US", "RFC5646", "English (United States)")  # CID 5000 Languages, TID 1204
# CID 6026 Mammography Assessment = CID 6027 Assessment from BI-RADS (+ a marker-placement
# code).  Category 6 has no SNOMED concept there; the standard lists the ACR's own code (scheme
# BI, version 4.0) for it.
BIRADS_6 = Code("MA.II.A.5.6", "BI", "6 - Known biopsy proven malignancy", scheme_version="4.0")

# --- in pydicom's dictionary, written with other meanings ---------------------------------------
# The dictionary's meaning has a zero-width space after the "/" (from the standard's web pages).
INDIVIDUAL_IMPRESSION = _worded(  # TID 4003 Individual Impression/Recommendation
    codes.DCM.IndividualImpressionRecommendation, "Individual Impression/Recommendation"
)
OVERALL_ANALYSIS = _worded(  # CID 6043 Types of Mammography CAD Analysis
    codes.DCM.OverallImpressionRecommendationAnalysis, "Overall Impression/Recommendation Analysis"
)
# CID 7460 Units of Linear Measurement: the dictionary's meaning is the unit symbol, "mm".
MILLIMETER = _worded(codes.UCUM.Millimeter, "millimeter")
# CID 6026 / CID 6027 (as above), categories 0 to 5: the dictionary's meanings are SNOMED's
# fully specified names ("Mammography assessment (Category 2) - Benign finding (finding)"); the
# SR writes the BI-RADS category as radiologists name it.
BIRADS_CODES: dict[int, Code] = {
    0: _worded(
        codes.SCT.MammographyAssessmentCategory0NeedAdditionalImagingEvaluation,
        "0 - Incomplete - Need additional imaging evaluation +/- priors",
    ),
    1: _worded(codes.SCT.MammographyAssessmentCategory1Negative, "1 - Negative"),
    2: _worded(codes.SCT.MammographyAssessmentCategory2BenignFinding, "2 - Benign"),
    3: _worded(
        codes.SCT.MammographyAssessmentCategory3ProbablyBenignFindingShortIntervalFollowUp,
        "3 - Probably Benign",
    ),
    4: _worded(
        codes.SCT.MammographyAssessmentCategory4SuspiciousAbnormalityBiopsyShouldBeConsidered,
        "4 - Suspicious",
    ),
    5: _worded(
        codes.SCT.MammographyAssessmentCategory5HighlySuggestiveOfMalignancy,
        "5 - Highly suggestive of malignancy",
    ),
    6: BIRADS_6,
}

# --- shared tables --------------------------------------------------------------------------------
LATERALITY_CODES: dict[str, Code] = {  # CID 6022 Side
    "R": codes.SCT.RightBreast,
    "L": codes.SCT.LeftBreast,
}
