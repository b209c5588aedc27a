"""Which breast and which view an image shows, from whatever the header offers.

Order of trust (product decision, see DESIGN.md): View Code Sequence (SNOMED, CID 4014/4015)
-> Image Laterality / Laterality -> View Position -> Patient Orientation -> free text
(Series Description, Acquisition Device Processing Description, Protocol Name).  Laterality and
view are resolved independently, each from the best source that has it; every source that
disagrees with the winner is recorded as a one-line conflict so the reader can be warned.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pydicom

from engine.dicom import codes

# Short suffixes for the modifiers a reader expects to see in a hanging label.
_LABEL_SUFFIX = {"spot": "spot", "magnification": "mag", "implant_displaced": "ID"}

# Views that share the cranio-caudal geometry versus the lateral / oblique family; Patient
# Orientation can only tell these two families apart.
_CC_FAMILY = frozenset({"CC", "XCCL", "XCCM", "FB"})
_LATERAL_FAMILY = frozenset({"MLO", "ML", "LM", "LMO", "SIO", "ISO"})


@dataclass(frozen=True)
class ViewInfo:
    laterality: str | None
    view: str | None
    modifiers: tuple[str, ...] = ()
    laterality_source: str | None = None
    view_source: str | None = None
    conflicts: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Hanging label such as "RCC", "LMLO spot", "R?" or "??"."""
        text = (self.laterality or "?") + (self.view or "?")
        extras = [_LABEL_SUFFIX[m] for m in self.modifiers if m in _LABEL_SUFFIX]
        return " ".join([text, *extras])


@dataclass(frozen=True)
class _Claim:
    source: str
    value: str
    # For Patient Orientation the view is only a family ("CC" or "MLO"/"ML"); compare by family.
    family_only: bool = False


def _get(ds: pydicom.Dataset, keyword: str) -> Any:
    """Attribute value or None; a malformed element must not stop identification."""
    try:
        return ds.get(keyword)
    except Exception:
        return None


def _clean(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        try:
            value = "\\".join(str(v) for v in value)
        except TypeError:
            value = str(value)
    return value.strip().upper()


def _code_key(
    item: pydicom.Dataset, table: dict[str, str], by_meaning: dict[str, str]
) -> str | None:
    scheme = _clean(_get(item, "CodingSchemeDesignator"))
    value = _clean(_get(item, "CodeValue"))
    if value and (not scheme or scheme in codes.SNOMED_SCHEMES) and value in table:
        return table[value]
    meaning = _get(item, "CodeMeaning")
    if meaning:
        return by_meaning.get(codes.fold(str(meaning)))
    return None


def _sequence(ds: pydicom.Dataset, keyword: str) -> list[pydicom.Dataset]:
    seq = _get(ds, keyword)
    try:
        return [item for item in seq if isinstance(item, pydicom.Dataset)] if seq else []
    except TypeError:
        return []


def _from_view_codes(ds: pydicom.Dataset) -> tuple[str | None, list[str]]:
    view = None
    modifiers: list[str] = []
    for item in _sequence(ds, "ViewCodeSequence"):
        key = _code_key(item, codes.VIEW_BY_CODE, codes.VIEW_BY_MEANING)
        if key is None:
            mod = _code_key(item, codes.MODIFIER_BY_CODE, codes.MODIFIER_BY_MEANING)
            key = codes.MODIFIERS_USED_AS_VIEWS.get(mod or "")
        if key and key != "SPECIMEN" and view is None:
            view = key
        for mod_item in _sequence(item, "ViewModifierCodeSequence"):
            mod = _code_key(mod_item, codes.MODIFIER_BY_CODE, codes.MODIFIER_BY_MEANING)
            if mod and mod not in modifiers:
                modifiers.append(mod)
    # Some writers put the modifier sequence at the top level instead of inside the view item.
    for mod_item in _sequence(ds, "ViewModifierCodeSequence"):
        mod = _code_key(mod_item, codes.MODIFIER_BY_CODE, codes.MODIFIER_BY_MEANING)
        if mod and mod not in modifiers:
            modifiers.append(mod)
    return view, modifiers


def _laterality_value(value: Any) -> str | None:
    text = _clean(value)
    return text if text in ("R", "L", "B") else None


def _from_patient_orientation(value: Any) -> tuple[str | None, str | None]:
    """(laterality, view family) under the stored-orientation convention of PS3.3 C.8.11.7.

    Images are stored chest wall towards the display edge they hang on: RCC "P\\L", LCC "A\\R",
    RMLO "P\\FL", LMLO "A\\FR".  The row direction (first value) therefore gives the breast and
    the column direction (second value) separates CC (left/right only) from the lateral family
    (a foot/head component).
    """
    parts = [p for p in re.split(r"[\\\s]+", _clean(value)) if p] if value is not None else []
    if len(parts) != 2:
        return None, None
    row, col = parts
    laterality = {"P": "R", "A": "L"}.get(row)
    letters = set(col)
    if not letters or not letters <= set("LRFH"):
        return laterality, None
    if letters <= {"L", "R"}:
        return laterality, "CC"
    return laterality, "MLO" if letters & {"L", "R"} else "ML"


_VIEW_ALTERNATION = "XCCL|XCCM|MLO|LMO|SIO|ISO|XCC|CC|ML|LM|FB"
_JOINED = re.compile(rf"^(R|L)({_VIEW_ALTERNATION})(ID)?$")
_LATERALITY_WORDS = {
    "R": "R",
    "RT": "R",
    "RIGHT": "R",
    "L": "L",
    "LT": "L",
    "LEFT": "L",
    "B": "B",
    "BILAT": "B",
    "BILATERAL": "B",
    "BOTH": "B",
}
_MODIFIER_WORDS = {
    "SPOT": "spot",
    "MAG": "magnification",
    "MAGNIFICATION": "magnification",
    "ID": "implant_displaced",
    "EKLUND": "implant_displaced",
}
_PHRASES = sorted(codes.VIEW_BY_MEANING.items(), key=lambda kv: -len(kv[0]))


def parse_view_text(text: str) -> tuple[str | None, str | None, list[str]]:
    """(laterality, view, modifiers) from free text like "R CC", "LMLO", "Right CC", "XCCL R".

    Ambiguous text (two different breasts or views) yields None for that part.
    """
    upper = text.upper()
    lats: set[str] = set()
    views: set[str] = set()
    mods: list[str] = []
    for token in re.split(r"[^A-Z0-9]+", upper):
        if not token:
            continue
        if token in codes.VIEW_POSITION_TERMS and token not in ("RCC", "LCC", "RMLO", "LMLO"):
            views.add(codes.VIEW_POSITION_TERMS[token])
        elif token in _LATERALITY_WORDS:
            lats.add(_LATERALITY_WORDS[token])
        elif token in _MODIFIER_WORDS:
            mods.append(_MODIFIER_WORDS[token])
        elif match := _JOINED.match(token):
            lats.add(match.group(1))
            views.add(codes.VIEW_POSITION_TERMS.get(match.group(2), match.group(2)))
            if match.group(3):
                mods.append("implant_displaced")
        elif "IMPLANT" in token and "DISPLACED" in upper:
            mods.append("implant_displaced")
    if not views:
        folded = codes.fold(text)
        for phrase, named in _PHRASES:
            if phrase and phrase in folded:
                views.add(named)
                break
    lat = lats.pop() if len(lats) == 1 else None
    view = views.pop() if len(views) == 1 else None
    return lat, view, list(dict.fromkeys(mods))


def _family(view: str) -> str:
    return "CC" if view in _CC_FAMILY else "MLO" if view in _LATERAL_FAMILY else view


def _resolve(claims: list[_Claim]) -> tuple[str | None, str | None, list[str]]:
    if not claims:
        return None, None, []
    best = claims[0]
    notes = []
    for other in claims[1:]:
        if other.family_only or best.family_only:
            differs = _family(other.value) != _family(best.value)
            said = f"a {_family(other.value)}-type view" if other.family_only else other.value
        else:
            differs = other.value != best.value
            said = other.value
        if differs:
            notes.append(f"{other.source} says {said} but {best.source} says {best.value}")
    return best.value, best.source, notes


def identify_view(ds: pydicom.Dataset) -> ViewInfo:
    """Breast laterality, view and modifiers of one image, with the sources that disagree."""
    lat_claims: list[_Claim] = []
    view_claims: list[_Claim] = []

    code_view, modifiers = _from_view_codes(ds)
    if code_view:
        view_claims.append(_Claim("ViewCodeSequence", code_view))
    for keyword in ("ImageLaterality", "Laterality"):
        lat = _laterality_value(_get(ds, keyword))
        if lat:
            lat_claims.append(_Claim(keyword, lat))
    position = codes.VIEW_POSITION_TERMS.get(_clean(_get(ds, "ViewPosition")))
    if position:
        view_claims.append(_Claim("ViewPosition", position))
    po_lat, po_family = _from_patient_orientation(_get(ds, "PatientOrientation"))
    if po_lat:
        lat_claims.append(_Claim("PatientOrientation", po_lat))
    if po_family:
        view_claims.append(_Claim("PatientOrientation", po_family, family_only=True))
    for keyword in ("SeriesDescription", "AcquisitionDeviceProcessingDescription", "ProtocolName"):
        text = _get(ds, keyword)
        if not text:
            continue
        t_lat, t_view, t_mods = parse_view_text(_clean(text))
        if t_lat:
            lat_claims.append(_Claim(keyword, t_lat))
        if t_view:
            view_claims.append(_Claim(keyword, t_view))
        # Free text only adds modifiers when no coded modifier exists, since codes are exact.
        if not modifiers and t_mods:
            modifiers = t_mods

    laterality, lat_source, lat_notes = _resolve(lat_claims)
    view, view_source, view_notes = _resolve(view_claims)
    return ViewInfo(
        laterality=laterality,
        view=view,
        modifiers=tuple(modifiers),
        laterality_source=lat_source,
        view_source=view_source,
        conflicts=tuple(lat_notes + view_notes),
    )
