"""Coded concepts the Mammography CAD SR uses (PS3.16: DCM, SCT, UCUM codes)."""

from __future__ import annotations

Code = tuple[str, str, str]  # (code value, coding scheme designator, code meaning)

MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"
DCMR_UID = "1.2.840.10008.8.1.1"
# --- concept names (DCM, PS3.16 Annex D) -----------------------------------------------------
MAMMO_CAD_REPORT: Code = ("111036", "DCM", "Mammography CAD Report")
LANGUAGE: Code = ("121049", "DCM", "Language of Content Item and Descendants")
IMAGE_LIBRARY: Code = ("111028", "DCM", "Image Library")
IMAGE_LATERALITY: Code = ("111027", "DCM", "Image Laterality")
IMAGE_VIEW: Code = ("111031", "DCM", "Image View")
IMAGE_VIEW_MODIFIER: Code = ("111032", "DCM", "Image View Modifier")
ORIENTATION_ROW: Code = ("111044", "DCM", "Patient Orientation Row")
ORIENTATION_COLUMN: Code = ("111043", "DCM", "Patient Orientation Column")
STUDY_DATE: Code = ("111060", "DCM", "Study Date")
STUDY_TIME: Code = ("111061", "DCM", "Study Time")
CONTENT_DATE: Code = ("111018", "DCM", "Content Date")
CONTENT_TIME: Code = ("111019", "DCM", "Content Time")
H_SPACING: Code = ("111026", "DCM", "Horizontal Pixel Spacing")
V_SPACING: Code = ("111066", "DCM", "Vertical Pixel Spacing")
FINDINGS_SUMMARY: Code = ("111017", "DCM", "CAD Processing and Findings Summary")
IMPRESSION: Code = ("111034", "DCM", "Individual Impression/Recommendation")
IMPRESSION_TEXT: Code = ("111033", "DCM", "Impression Description")
RENDERING_INTENT: Code = ("111056", "DCM", "Rendering Intent")
SINGLE_IMAGE_FINDING: Code = ("111059", "DCM", "Single Image Finding")
CERTAINTY_OF_FINDING: Code = ("111012", "DCM", "Certainty of Finding")
PROBABILITY_OF_CANCER: Code = ("111047", "DCM", "Probability of cancer")
REGION_DESCRIPTION: Code = ("111058", "DCM", "Selected Region Description")
CENTER: Code = ("111010", "DCM", "Center")
OUTLINE: Code = ("111041", "DCM", "Outline")
SUMMARY_OF_DETECTIONS: Code = ("111064", "DCM", "Summary of Detections")
SUMMARY_OF_ANALYSES: Code = ("111065", "DCM", "Summary of Analyses")
SUCCESSFUL_DETECTIONS: Code = ("111063", "DCM", "Successful Detections")
FAILED_DETECTIONS: Code = ("111025", "DCM", "Failed Detections")
SUCCESSFUL_ANALYSES: Code = ("111062", "DCM", "Successful Analyses")
FAILED_ANALYSES: Code = ("111024", "DCM", "Failed Analyses")
DETECTION_PERFORMED: Code = ("111022", "DCM", "Detection Performed")
ANALYSIS_PERFORMED: Code = ("111004", "DCM", "Analysis Performed")
ALGORITHM_NAME: Code = ("111001", "DCM", "Algorithm Name")
ALGORITHM_VERSION: Code = ("111003", "DCM", "Algorithm Version")
ALGORITHM_PARAMETERS: Code = ("111002", "DCM", "Algorithm Parameters")
# --- values -------------------------------------------------------------------------------------
ENGLISH_US: Code = ("en-US", "RFC5646", "English (United States)")  # CID 5000
PERCENT: Code = ("%", "UCUM", "Percent")
MICROMETER: Code = ("um", "UCUM", "micrometer")
LATERALITY_CODES: dict[str, Code] = {  # CID 6022
    "R": ("73056007", "SCT", "Right breast"),
    "L": ("80248007", "SCT", "Left breast"),
}
ALL_WITH: Code = ("111242", "DCM", "All algorithms succeeded; with findings")  # CID 6047
ALL_WITHOUT: Code = ("111241", "DCM", "All algorithms succeeded; without findings")
SOME_WITH: Code = ("111244", "DCM", "Not all algorithms succeeded; with findings")
SOME_WITHOUT: Code = ("111243", "DCM", "Not all algorithms succeeded; without findings")
NONE_WITHOUT: Code = ("111245", "DCM", "No algorithms succeeded; without findings")
SUCCEEDED: Code = ("111222", "DCM", "Succeeded")  # CID 6042
PARTIALLY_SUCCEEDED: Code = ("111223", "DCM", "Partially Succeeded")
FAILED: Code = ("111224", "DCM", "Failed")
PRESENTATION_REQUIRED: Code = (
    "111150",
    "DCM",
    "Presentation Required: Rendering device is expected to present",
)  # CID 6034
OVERALL_ANALYSIS: Code = ("111234", "DCM", "Overall Impression/Recommendation Analysis")
DENSITY_ANALYSIS: Code = ("133890006", "SCT", "Breast composition analysis")  # CID 6043
# The model marks locations suspicious for malignancy without telling a mass from a
# calcification or a distortion.  CID 6014 (Mammography Single Image Finding) has no
# type-neutral "suspicious lesion" concept, and each lesion concept in it ("Mammography breast
# density", "Calcification Cluster", ...) asserts a morphology the model cannot know.
# "Selected region" states only that the algorithm singled out this image region; its meaning
# is given by the Selected Region Description and by Probability of cancer.
FINDING: Code = ("111099", "DCM", "Selected region")
FINDING_DESCRIPTION = "Region suspicious for malignancy (lesion type not classified)"
