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
_BIRADS_4 = codes.SCT.MammographyAssessmentCategory4SuspiciousAbnormalityBiopsyShouldBeConsidered
BIRADS_CODES: dict[str, Code] = {
    "0": _worded(
        codes.SCT.MammographyAssessmentCategory0NeedAdditionalImagingEvaluation,
        "0 - Incomplete - Need additional imaging evaluation +/- priors",
    ),
    "1": _worded(codes.SCT.MammographyAssessmentCategory1Negative, "1 - Negative"),
    "2": _worded(codes.SCT.MammographyAssessmentCategory2BenignFinding, "2 - Benign"),
    "3": _worded(
        codes.SCT.MammographyAssessmentCategory3ProbablyBenignFindingShortIntervalFollowUp,
        "3 - Probably Benign",
    ),
    "4": _worded(_BIRADS_4, "4 - Suspicious"),
    # CID 6026 has no concept for the 5th edition's subdivisions of category 4.  They are
    # written as category 4's code, which every reader of the SR understands, with the
    # subdivision in the code meaning.  The meaning rather than a TEXT item: the copy that
    # leaves the site carries no TEXT at all, and the subdivision must not be lost there.
    "4A": _worded(_BIRADS_4, "4A - Low suspicion for malignancy"),
    "4B": _worded(_BIRADS_4, "4B - Moderate suspicion for malignancy"),
    "4C": _worded(_BIRADS_4, "4C - High suspicion for malignancy"),
    "5": _worded(
        codes.SCT.MammographyAssessmentCategory5HighlySuggestiveOfMalignancy,
        "5 - Highly suggestive of malignancy",
    ),
    "6": BIRADS_6,
}

# CID 6028 Mammography Recommended Follow-up, for the read's management recommendation
# (engine.reading.birads.RECOMMENDATIONS).  A recall for additional imaging has no single
# concept there (only the kinds of work-up: views, ultrasound, ...): the evaluation procedure
# concept of the same group stands for it.
RECOMMENDATION_CODES: dict[str, Code] = {
    "routine": codes.DCM.NormalIntervalFollowUp,
    "short-interval": codes.DCM.FollowUpAtShortInterval111Months,
    "recall": codes.SCT.EvaluationProcedure,
    "biopsy": codes.DCM.BiopsyShouldBeConsidered,
    "excision": codes.DCM.SurgicalConsult,
    "known-cancer": codes.DCM.KnownBiopsyProvenMalignancyTakeAppropriateAction,
}

# CID 6018 Clockface Location or Region: the whole hours and the named regions of a finding's
# clock-face position (engine.reading.birads.REGIONS); half hours have no concept.
CLOCK_CODES: dict[str, Code] = {
    **{f"{h}:00": getattr(codes.SCT, f"_{h}OClockPosition") for h in range(1, 13)},
    "retroareolar": codes.SCT.SubareolarRegion,
    "central": codes.SCT.CentralRegionOfBreast,
    "axillary tail": codes.SCT.AxillaryTailRegion,
}
# CID 6024 Depth (the thirds of the breast).
DEPTH_CODES: dict[str, Code] = {
    "anterior": codes.SCT.Anterior,
    "middle": codes.NCIt.Middle,
    "posterior": codes.SCT.Posterior,
}

# The BI-RADS lexicon's descriptors of a finding (engine.reading.birads.LEXICON and
# ASSOCIATED_FEATURES): word -> (concept name, value).  Values are from the BI-RADS context
# groups: CID 6005 shape, CID 6007 margin, CID 6009 density, CID 6011 calcification type,
# CID 6013 calcification distribution, CID 6056 associated findings; the concept names are
# those of the mammography finding descriptors (Margins, Lesion Density, Calcification Type,
# Calcification Distribution).  The 5th edition's "rim" calcifications (once eggshell or
# lucent-centred) take the eggshell concept.  Asymmetry kinds and the "other" finding kinds
# have no concept in these groups and stay in the finding's text.
_SHAPE, _MARGIN, _DENSITY = codes.SCT.Shape, codes.DCM.Margins, codes.DCM.LesionDensity
_CALC, _SPREAD = codes.DCM.CalcificationType, codes.DCM.CalcificationDistribution
_ASSOCIATED = codes.SCT.AssociatedFinding
DESCRIPTOR_CODES: dict[str, tuple[Code, Code]] = {
    "oval": (_SHAPE, codes.cid6005.OvoidShapeOval),
    "round": (_SHAPE, codes.cid6005.RoundShape),
    "irregular": (_SHAPE, codes.cid6005.Irregular),
    "circumscribed": (_MARGIN, codes.cid6007.CircumscribedLesion),
    "obscured": (_MARGIN, codes.cid6007.ObscuredLesion),
    "microlobulated": (_MARGIN, codes.cid6007.MicrolobulatedLesion),
    "indistinct": (_MARGIN, codes.cid6007.IndistinctLesion),
    "spiculated": (_MARGIN, codes.cid6007.SpiculatedLesion),
    "high-density": (_DENSITY, codes.cid6009.HighDensityLesion),
    "equal-density": (_DENSITY, codes.cid6009.EqualDensityIsodenseLesion),
    "low-density": (_DENSITY, codes.cid6009.LowDensityNotContainingFatLesion),
    "fat-containing": (_DENSITY, codes.cid6009.FatContainingRadiolucentLesion),
    "skin": (_CALC, codes.cid6011.CalcifiedSkinOfBreast),
    "vascular": (_CALC, codes.cid6011.VascularCalcificationRadiographicFinding),
    "coarse": (_CALC, codes.cid6011.CoarsePopcornLikeCalcification),
    "popcorn": (_CALC, codes.cid6011.CoarsePopcornLikeCalcification),
    "rod-like": (_CALC, codes.cid6011.LargeRodLikeCalcification),
    "round-calcification": (_CALC, codes.cid6011.RoundShapedCalcification),
    "rim": (_CALC, codes.cid6011.EggshellCalcification),
    "dystrophic": (_CALC, codes.cid6011.DystrophicCalcification),
    "milk-of-calcium": (_CALC, codes.cid6011.MilkOfCalciumCalcification),
    "suture": (_CALC, codes.cid6011.CalcifiedSutureMaterial),
    "amorphous": (_CALC, codes.cid6011.AmorphousCalcification),
    "coarse-heterogeneous": (_CALC, codes.cid6011.HeterogeneousCalcification),
    "fine-pleomorphic": (_CALC, codes.cid6011.FinePleomorphicCalcification),
    "fine-linear": (_CALC, codes.cid6011.FineLinearCastingCalcification),
    "fine-linear-branching": (_CALC, codes.cid6011.FineLinearBranchingCastingCalcification),
    "diffuse": (_SPREAD, codes.cid6013.DiffuseCalcificationDistribution),
    "regional": (_SPREAD, codes.cid6013.RegionalCalcificationDistribution),
    "grouped": (_SPREAD, codes.cid6013.GroupedCalcificationDistribution),
    "linear": (_SPREAD, codes.cid6013.LinearCalcificationDistribution),
    "segmental": (_SPREAD, codes.cid6013.SegmentalCalcificationDistribution),
    "skin-retraction": (_ASSOCIATED, codes.cid6056.SkinRetractionOfBreast),
    "nipple-retraction": (_ASSOCIATED, codes.cid6056.NippleRetraction),
    "skin-thickening": (_ASSOCIATED, codes.cid6056.SkinThickeningOfBreast),
    "trabecular-thickening": (_ASSOCIATED, codes.cid6056.TrabecularThickeningOfBreast),
    "axillary-adenopathy": (_ASSOCIATED, codes.cid6056.AxillaryAdenopathy),
}


def descriptor_code(kind: str, word: str) -> tuple[Code, Code] | None:
    """The (concept name, value) of a finding's lexicon word; None where it has none.
    "round" is a mass's shape, or a round calcification."""
    if kind == "calcifications" and word == "round":
        word = "round-calcification"
    return DESCRIPTOR_CODES.get(word)


# --- shared tables --------------------------------------------------------------------------------
LATERALITY_CODES: dict[str, Code] = {  # CID 6022 Side
    "R": codes.SCT.RightBreast,
    "L": codes.SCT.LeftBreast,
}
