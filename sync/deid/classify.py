"""Which objects can be cleaned, and which are quarantined.

Quarantined objects never leave the workstation: secondary captures and
encapsulated documents (they may show or hold anything, printed names
included), unknown SOP classes, images whose header does not say they are
free of burned-in text, and structured reports with free text or names.
Mammograms are cleaned by blanking the background (pixels.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import pydicom
from pydicom.uid import (
    UID,
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
    ExplicitVRBigEndian,
)

MAMMOGRAMS = {
    DigitalMammographyXRayImageStorageForPresentation,
    DigitalMammographyXRayImageStorageForProcessing,
}
FREE_TEXT_VALUE_TYPES = {"TEXT", "PNAME"}
_PIXELS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


@dataclass(frozen=True)
class Verdict:
    kind: str            # "mammogram" | "image" | "report" | "quarantine"
    reason: str = ""     # why it is quarantined (one line, no patient data)


def _free_text(items: Iterable[pydicom.Dataset] | None, depth: int = 0) -> bool:
    for item in items or ():
        if str(item.get("ValueType", "")).upper() in FREE_TEXT_VALUE_TYPES:
            return True
        if depth < 64 and _free_text(item.get("ContentSequence"), depth + 1):
            return True
    return False


def classify(ds: pydicom.Dataset, known_sop_classes: Collection[str]) -> Verdict:
    sop = str(ds.get("SOPClassUID", "")).strip("\0 ")
    if not sop:
        return Verdict("quarantine", "no SOP Class UID: what the object holds is unknown")
    meta = getattr(ds, "file_meta", None)
    ts = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if ts == ExplicitVRBigEndian or getattr(ds, "original_encoding", (None, True))[1] is False:
        return Verdict("quarantine", "big endian encoding (retired): not converted")
    name = UID(sop).name if UID(sop).is_valid else sop
    if sop in MAMMOGRAMS:
        return Verdict("mammogram")
    if "Secondary Capture" in name:
        return Verdict("quarantine", "secondary capture: it may show anything, printed "
                                     "names included")
    if name.startswith("Encapsulated"):
        return Verdict("quarantine", f"{name}: a document MammoDesk cannot clean")
    if name == sop and sop not in known_sop_classes:
        # Only a well-formed UID is repeated: a damaged value may be anything, on many lines.
        shown = sop if UID(sop).is_valid else "(unreadable UID)"
        return Verdict("quarantine", f"unknown SOP class {shown}")
    if "SR Storage" in name or str(ds.get("Modality", "")) == "SR":
        if _free_text(ds.get("ContentSequence")):
            return Verdict("quarantine", "structured report with free text or names")
        return Verdict("report")
    if any(k in ds for k in _PIXELS):
        burned = str(ds.get("BurnedInAnnotation", "")).strip().upper()
        faces = str(ds.get("RecognizableVisualFeatures", "")).strip().upper()
        if burned != "NO" or faces == "YES":
            return Verdict("quarantine", f"{name}: burned-in text is possible "
                                         "(Burned In Annotation is not NO)")
        return Verdict("image")
    return Verdict("quarantine", f"{name}: not an image or report MammoDesk can clean")
