"""SNOMED code tables for mammography views (DICOM CID 4014) and view modifiers (CID 4015).

Each concept is listed under both coding schemes seen in the field: the current SNOMED CT
identifiers (scheme "SCT", used since DICOM 2019) and the legacy SNOMED RT identifiers
(scheme "SRT", "R-xxxxx"), which older modalities and archives still send.  The pairs match
pydicom's bundled copy of the standard (pydicom/sr/_cid_dict.py and _snomed_dict.py).
"""

from __future__ import annotations

# view abbreviation (ACR MQCM / View Position defined terms) -> (SCT code, SRT code, meaning)
VIEW_CONCEPTS: dict[str, tuple[str, str, str]] = {
    "CC": ("399162004", "R-10242", "cranio-caudal"),
    "MLO": ("399368009", "R-10226", "medio-lateral oblique"),
    "ML": ("399260004", "R-10224", "medio-lateral"),
    "LM": ("399352003", "R-10228", "latero-medial"),
    "LMO": ("399099002", "R-10230", "latero-medial oblique"),
    "XCCL": ("399192008", "R-1024A", "cranio-caudal exaggerated laterally"),
    "XCCM": ("399101009", "R-1024B", "cranio-caudal exaggerated medially"),
    "FB": ("399196006", "R-10244", "caudo-cranial (from below)"),
    "SIO": ("399188001", "R-102D0", "superolateral to inferomedial oblique"),
    "ISO": ("441555000", "R-40AAA", "inferomedial to superolateral oblique"),
    "SPECIMEN": ("127457009", "G-8310", "tissue specimen from breast"),
}

# modifier keyword -> (SCT code, SRT code, meaning); keywords are what ViewInfo.modifiers holds
MODIFIER_CONCEPTS: dict[str, tuple[str, str, str]] = {
    "spot": ("399055006", "R-102D7", "spot compression"),
    "magnification": ("399163009", "R-102D6", "magnification"),
    "implant_displaced": ("399209000", "R-102D5", "implant displaced"),
    "rolled_lateral": ("399197002", "R-102D3", "rolled lateral"),
    "rolled_medial": ("399226006", "R-102D4", "rolled medial"),
    "rolled_superior": ("415670009", "R-102C9", "rolled superior"),
    "rolled_inferior": ("414493004", "R-102CA", "rolled inferior"),
    "axillary_tail": ("399011000", "R-102D1", "axillary tail"),
    "cleavage": ("399161006", "R-102D2", "cleavage"),
    "tangential": ("399110001", "R-102C2", "tangential"),
    "nipple_in_profile": ("442581004", "R-40AB3", "nipple in profile"),
    "axillary_tissue": ("442580003", "R-40AB2", "axillary tissue"),
    "anterior_compression": ("441752004", "P2-00161", "anterior compression"),
    "infra_mammary_fold": ("442593008", "R-40ABE", "infra-mammary fold"),
}

# Some devices put the axillary-tail or cleavage concept in the View Code Sequence itself
# (they are View Position defined terms AT and CV); accept them as views there.
MODIFIERS_USED_AS_VIEWS: dict[str, str] = {"axillary_tail": "AT", "cleavage": "CV"}

# Coding scheme designators that carry SNOMED; "SNM3" is the pre-SRT name some old devices use.
SNOMED_SCHEMES = frozenset({"SCT", "SRT", "SNM3", "SNOMED", "SNOMED-CT", "SNOMEDCT"})


def _index(table: dict[str, tuple[str, str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, (sct, srt, _meaning) in table.items():
        out[sct] = key
        out[srt.upper()] = key
    return out


VIEW_BY_CODE = _index(VIEW_CONCEPTS)
MODIFIER_BY_CODE = _index(MODIFIER_CONCEPTS)


# Code meanings as a fallback when a device sends a code value we do not know but a standard
# meaning; keys are lower-case with hyphens and spaces folded.
def _fold(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


VIEW_BY_MEANING = {_fold(m): k for k, (_a, _b, m) in VIEW_CONCEPTS.items()}
VIEW_BY_MEANING.update(
    {
        _fold("mediolateral oblique"): "MLO",
        _fold("mediolateral"): "ML",
        _fold("lateromedial"): "LM",
        _fold("lateromedial oblique"): "LMO",
        _fold("craniocaudal"): "CC",
        _fold("caudo-cranial"): "FB",
        _fold("from below"): "FB",
        _fold("exaggerated craniocaudal lateral"): "XCCL",
        _fold("exaggerated craniocaudal medial"): "XCCM",
    }
)
MODIFIER_BY_MEANING = {_fold(m): k for k, (_a, _b, m) in MODIFIER_CONCEPTS.items()}


def fold(text: str) -> str:
    """Lower-case text with everything but letters and digits removed (for meaning lookup)."""
    return _fold(text)


# View Position (0018,5101) defined terms for mammography (PS3.3 C.8.11.7, ACR MQCM);
# a few common vendor spellings map onto them.
VIEW_POSITION_TERMS: dict[str, str] = {
    term: term
    for term in ("CC", "MLO", "ML", "LM", "LMO", "XCCL", "XCCM", "FB", "SIO", "ISO", "AT", "CV")
}
VIEW_POSITION_TERMS.update({"XCC": "XCCL", "RCC": "CC", "LCC": "CC", "RMLO": "MLO", "LMLO": "MLO"})
