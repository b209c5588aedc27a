"""Ceilings on what an input may make MammoDesk allocate.

A 4 KB file can claim a 65535 x 65535 image and a 1 MB ZIP can hold a 1 GB member of zeros;
decoders and unzippers allocate what the header claims.  Every size is checked against these
ceilings before anything is allocated.  The defaults admit the largest real mammograms and
tomosynthesis frames (about 100 megapixels a frame); IT can change them in the settings file
(``limits.frame_megapixels``, ``limits.file_mb``, ``limits.zip_ratio``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, fields, replace

log = logging.getLogger(__name__)

# A whole multi-frame image (a tomosynthesis volume) may decode to this many frames' worth of
# the per-frame ceiling: real volumes are 50 to 90 frames of 5 to 10 megapixels.
TOTAL_FRAMES_FACTOR = 8
# Below this many bytes a ZIP member is harmless whatever its compression ratio (a blank
# image compresses a thousandfold), so the ratio ceiling starts here.
RATIO_FLOOR_BYTES = 4 * 1024 * 1024
_MB = 1_000_000


@dataclass(frozen=True)
class Limits:
    frame_megapixels: float = 120.0
    # A file or ZIP member is held whole in memory while it is imported, and parsing holds
    # its pixel data a second time: 512 MB keeps the peak near 1.2 GB.
    file_mb: float = 512.0
    # Real DICOM files deflate 1.3 to 5 times; a member of zeros a thousand times.
    zip_ratio: float = 100.0

    @property
    def frame_pixels(self) -> int:
        return int(self.frame_megapixels * _MB)

    @property
    def frame_bytes(self) -> int:
        """Decoded bytes of one frame at the ceiling (16-bit greyscale)."""
        return self.frame_pixels * 2

    @property
    def total_bytes(self) -> int:
        """Decoded bytes of a whole multi-frame image."""
        return self.frame_bytes * TOTAL_FRAMES_FACTOR

    @property
    def file_bytes(self) -> int:
        """Largest file or ZIP member read whole into memory."""
        return int(self.file_mb * _MB)

    def megapixels_text(self) -> str:
        return f"{self.frame_megapixels:g}-megapixel"

    def file_mb_text(self) -> str:
        return f"{self.file_mb:g} MB"


_KEYS = {f"limits.{f.name}": f.name for f in fields(Limits)}
_lock = threading.Lock()
_current: Limits | None = None


def _from_settings() -> Limits:
    # Imported here: engine.paths pulls in platformdirs, which the decoders do not need.
    from engine.paths import app_paths
    from engine.settings import Settings

    try:
        values = Settings(app_paths().config).all()
    except Exception as exc:  # an unreadable settings file must not stop decoding
        log.warning("decoding limits: settings unreadable, defaults used (%s)",
                    type(exc).__name__)
        return Limits()
    chosen: dict[str, float] = {}
    for key, name in _KEYS.items():
        raw = values.get(key, "")
        try:
            number = float(raw)
        except ValueError:
            continue
        if number > 0:
            chosen[name] = number
    return Limits(**chosen)


def current() -> Limits:
    """The ceilings for this process, read once from the settings file."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = _from_settings()
    return _current


def configure(limits: Limits | None = None, **changes: float) -> Limits:
    """Set this process's ceilings (tests, or a caller that knows better).

    ``configure()`` with nothing forgets them, so the next ``current()`` reads the settings
    file again; ``configure(frame_megapixels=1)`` changes one ceiling from the defaults.
    """
    global _current
    with _lock:
        if limits is None and not changes:
            _current = None
            return Limits()
        _current = replace(limits or Limits(), **changes)
        return _current
