"""Reports of the radiologist's read: the signed assessment as a DICOM Structured Report.

``engine.reporting.sr`` holds the SR building blocks it shares with the AI's Mammography CAD
SR (engine.ai.cad_sr)."""

from engine.reporting.assessment_sr import build_assessment_sr, write_assessment_sr

__all__ = ["build_assessment_sr", "write_assessment_sr"]
