"""Reports of the radiologist's read: the signed assessment as a DICOM Structured Report."""

from engine.reporting.assessment_sr import build_assessment_sr, write_assessment_sr

__all__ = ["build_assessment_sr", "write_assessment_sr"]
