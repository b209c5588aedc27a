"""Image size presets for the synthetic cohort."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SizePreset:
    """Stored image size (rows x columns) and detector pixel pitch."""

    rows: int
    columns: int
    pixel_spacing_mm: float


# "full" matches a common vendor detector (24 x 29 cm at 70 um).  The smaller
# presets keep a real pixel pitch and simply show a smaller field of view, so
# lesion sizes in mm stay meaningful at every size.
SIZE_PRESETS: dict[str, SizePreset] = {
    "small": SizePreset(rows=1024, columns=832, pixel_spacing_mm=0.1),
    "default": SizePreset(rows=2048, columns=1664, pixel_spacing_mm=0.1),
    "full": SizePreset(rows=4096, columns=3328, pixel_spacing_mm=0.07),
    # A taller, narrower detector at 65 um, the size of the 16-bit RLE
    # mammograms some units write (about 4500 x 2800).
    "large": SizePreset(rows=4500, columns=2800, pixel_spacing_mm=0.065),
}
