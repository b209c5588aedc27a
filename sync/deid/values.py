"""Replacement values: dummies by VR (action D) and cleaned descriptors (C).

A descriptor is kept by the Clean Descriptors option only when every word of
it is a known imaging word (views, laterality, procedure terms) or a short
number; anything else (a name, a free remark, a date) is not "cleaned" by
guessing but removed as the Basic profile would.
"""

from __future__ import annotations

import re

DUMMY_TEXT = "ANONYMIZED"
DUMMIES: dict[str, object] = {
    "AE": "ANONYMOUS", "AS": "000Y", "CS": "ANONYMIZED", "DA": "19000101",
    "DT": "19000101000000", "TM": "000000", "DS": "0", "IS": "0",
    "LO": DUMMY_TEXT, "LT": DUMMY_TEXT, "SH": DUMMY_TEXT, "ST": DUMMY_TEXT,
    "UC": DUMMY_TEXT, "UT": DUMMY_TEXT, "PN": "ANONYMIZED", "UR": "",
    "FL": 0.0, "FD": 0.0, "SL": 0, "SS": 0, "UL": 0, "US": 0, "SV": 0, "UV": 0,
    "AT": 0, "OB": b"\0\0", "OW": b"\0\0", "OD": b"\0" * 8, "OF": b"\0" * 4,
    "OL": b"\0" * 4, "OV": b"\0" * 8, "UN": b"\0\0",
}

_SAFE_TEXT = """
L R LEFT RIGHT BILATERAL UNILATERAL B LT RT BIL
CC MLO ML LM LMO XCCL XCCM FB SIO AT CV RL RM ID TAN NAV
MAMMO MAMMOGRAPHY MAMMOGRAM MAMMOGRAMS MAMMOGRAPHIC MG DBT BREAST BREASTS
SCREENING SCREEN DIAGNOSTIC DIAG FOLLOW UP FOLLOWUP RECALL ADDITIONAL
VIEW VIEWS STANDARD ROUTINE SPOT MAG MAGNIFICATION COMPRESSION CONTACT
IMPLANT IMPLANTS DISPLACED DISPLACEMENT EKLUND
TOMO TOMOSYNTHESIS SYNTHETIC SYNTHESIZED SYNTHESISED C-VIEW CVIEW 2D 3D
DIGITAL FFDM DX CR PROCESSED RAW FOR PROCESSING PRESENTATION
CAD AI PHANTOM QC QA TEST
IMAGE IMAGES SERIES STUDY EXAM EXAMINATION PROCEDURE
CRANIOCAUDAL MEDIOLATERAL OBLIQUE LATERAL MEDIAL AXILLARY TAIL CLEAVAGE EXAGGERATED
WITH WITHOUT AND OF THE A IN ON TO NO YES
"""
SAFE_WORDS = frozenset(_SAFE_TEXT.split())
_WORD = re.compile(r"[A-Za-z0-9\-]+")
_SHORT_NUMBER = re.compile(r"[0-9]{1,3}")


def descriptor_is_safe(text: str) -> bool:
    """True when every word is a known imaging word or a number of up to 3 digits."""
    words = _WORD.findall(text)
    if not words:
        return not text.strip()
    return all(w.upper() in SAFE_WORDS or _SHORT_NUMBER.fullmatch(w) for w in words)


def dummy(vr: str) -> object:
    return DUMMIES.get(vr, DUMMY_TEXT)
