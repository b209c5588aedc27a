"""The mammography hanging protocol: which image goes in which cell, and how
it is turned so the two breasts hang back to back.

Screening 2x2: CC row above the MLO row, the right breast in the left
column and the left breast in the right column, each image mirrored as
needed so the chest walls face each other in the middle and the lateral
side (CC) or the head side (MLO) is up, each anchored to its chest-wall
edge.  The target orientations are the IHE Mammography Image profile's:
RCC P\\L, LCC A\\R, RMLO P\\F, LMLO A\\F (PatientOrientation row\\column).

A missing view leaves its cell empty with a label saying so; a repeated view
hangs its latest image and the label says how many there are.  Views that are
not CC or MLO (spot, magnification, ML, XCCL ...) are listed as extras.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import pydicom

from engine.dicom.header import acquisition_order, patient_orientation
from engine.dicom.values import header_value
from engine.dicom.views import identify_view

SIDES = ("R", "L")
POSITIONS = ("CC", "MLO")
# Layouts: name -> rows of cells, each cell (study slot, laterality, view).
# Study slot 0 is the current study, 1 the prior.
LAYOUTS: dict[str, tuple[tuple[tuple[int, str, str], ...], ...]] = {
    "2x2": (((0, "R", "CC"), (0, "L", "CC")), ((0, "R", "MLO"), (0, "L", "MLO"))),
    "CC": (((0, "R", "CC"), (0, "L", "CC")),),
    "MLO": (((0, "R", "MLO"), (0, "L", "MLO")),),
    "R": (((0, "R", "CC"), (0, "R", "MLO")),),
    "L": (((0, "L", "CC"), (0, "L", "MLO")),),
    "prior CC": (((0, "R", "CC"), (0, "L", "CC")), ((1, "R", "CC"), (1, "L", "CC"))),
    "prior MLO": (((0, "R", "MLO"), (0, "L", "MLO")), ((1, "R", "MLO"), (1, "L", "MLO"))),
    **{f"{side}{pos}": (((0, side, pos),),) for side in SIDES for pos in POSITIONS},
}
_COLUMN_TARGET = {("R", "CC"): "L", ("L", "CC"): "R", ("R", "MLO"): "F", ("L", "MLO"): "F"}
_OPPOSITE = {"A": "P", "P": "A", "L": "R", "R": "L", "H": "F", "F": "H"}


@dataclass(frozen=True)
class HangImage:
    key: str  # SOP Instance UID
    laterality: str | None
    view: str | None  # "CC", "MLO", "ML", ...
    modifiers: tuple[str, ...] = ()
    patient_orientation: tuple[str, str] | None = None
    order: tuple = ()  # later images sort last (acquisition date/time, instance number)
    label: str = ""
    rows: int = 0  # stored size, when the header gives it
    columns: int = 0


@dataclass(frozen=True)
class Placement:
    """One image in one cell: mirror it left-right and/or up-down first."""

    image: HangImage
    flip_h: bool
    flip_v: bool
    anchor: str  # "left" or "right": the edge the chest wall is put against
    orientation_known: bool  # False: flip_h must come from the pixels (tissue side)


@dataclass(frozen=True)
class Cell:
    study: int
    laterality: str
    view: str
    placement: Placement | None
    label: str  # "RCC", "RCC missing", "LMLO (2 images, latest shown)"


@dataclass
class Hang:
    layout: str
    rows: list[list[Cell]]
    extras: list[HangImage] = field(default_factory=list)

    def cells(self) -> list[Cell]:
        return [c for row in self.rows for c in row]


def _first_letter(value: str) -> str:
    value = (value or "").strip().upper()
    return value[0] if value else ""


def placement(image: HangImage, laterality: str, view: str, anchor: str) -> Placement:
    """How to turn `image` for a cell of (laterality, view)."""
    # The chest wall (posterior) meets the anchor edge: toward the middle of
    # the 2x2, so R images have it on their right (row direction P).
    row_target = "P" if anchor == "right" else "A"
    col_target = _COLUMN_TARGET[(laterality, view)]
    po = image.patient_orientation
    row_dir = _first_letter(po[0]) if po else ""
    col_dir = (po[1] or "").strip().upper() if po else ""
    known = row_dir in ("A", "P")
    flip_h = known and row_dir != row_target
    if view == "MLO":
        # Oblique views may give a compound column direction such as "FR".
        flip_v = "H" in col_dir and "F" not in col_dir
    else:
        flip_v = _first_letter(col_dir) == _OPPOSITE[col_target]
    return Placement(image, flip_h, flip_v, anchor, known)


def _screening_key(image: HangImage) -> tuple[str, str] | None:
    if image.laterality not in SIDES or image.modifiers:
        return None
    if image.view in POSITIONS:
        return image.laterality, image.view
    return None


def group_views(
    images: Sequence[HangImage],
) -> tuple[dict[tuple[str, str], list[HangImage]], list[HangImage]]:
    """Screening views by (laterality, view), each list latest last; the rest."""
    groups: dict[tuple[str, str], list[HangImage]] = defaultdict(list)
    extras: list[HangImage] = []
    for image in images:
        key = _screening_key(image)
        if key is None:
            extras.append(image)
        else:
            groups[key].append(image)
    for key in groups:
        groups[key].sort(key=lambda i: (i.order, i.key))
    return dict(groups), extras


def hang(
    current: Sequence[HangImage],
    layout: str = "2x2",
    prior: Sequence[HangImage] | None = None,
) -> Hang:
    """Assign the study's images (and a prior study's) to the layout's cells."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    return hang_cells(current, LAYOUTS[layout], [prior or []], layout)


def hang_cells(
    current: Sequence[HangImage],
    rows_of_cells: Sequence[Sequence[tuple[int, str, str]]],
    priors: Sequence[Sequence[HangImage]] = (),
    name: str = "",
) -> Hang:
    """Assign images to cells given as rows of (study slot, laterality, view):
    slot 0 is `current`, slot k the k-th of `priors` (most recent first)."""
    studies = [group_views(current), *(group_views(p) for p in priors)]
    rows: list[list[Cell]] = []
    for row in rows_of_cells:
        cells = []
        for col, (slot, side, view) in enumerate(row):
            groups = studies[slot][0] if slot < len(studies) else {}
            images = groups.get((side, view), [])
            label_name = f"{side}{view}" + {0: "", 1: " prior"}.get(slot, f" prior-{slot}")
            # Two breasts side by side hang back to back; a single breast's
            # views keep its chest wall on the side it has in the 2x2.
            if len(row) == 2 and row[0][1] != row[1][1]:
                anchor = "right" if col == 0 else "left"
            else:
                anchor = "right" if side == "R" else "left"
            if not images:
                cells.append(Cell(slot, side, view, None, f"{label_name} missing"))
                continue
            shown = images[-1]
            label = (label_name if len(images) == 1
                     else f"{label_name} ({len(images)} images, latest shown)")
            cells.append(Cell(slot, side, view, placement(shown, side, view, anchor), label))
        rows.append(cells)
    return Hang(name, rows, list(studies[0][1]))


def tissue_flip(anchor: str, tissue_on_left: bool) -> bool:
    """Mirror decision from the pixels, when PatientOrientation says nothing:
    the chest wall is the side with more tissue; it must meet the anchor."""
    return tissue_on_left != (anchor == "left")


def hang_image(ds: pydicom.Dataset) -> HangImage:
    """A file's hanging facts: its view (by every coding path identify_view
    knows), PatientOrientation, and the order of repeated views (acquisition
    date and time, then instance number)."""
    info = identify_view(ds)
    return HangImage(
        str(header_value(ds, "SOPInstanceUID", "")),
        info.laterality,
        info.view,
        tuple(info.modifiers),
        patient_orientation(ds),
        acquisition_order(ds),
        info.label,
        number_or_zero(header_value(ds, "Rows")),
        number_or_zero(header_value(ds, "Columns")),
    )


def number_or_zero(value: object) -> int:
    try:
        return int(value or 0)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
