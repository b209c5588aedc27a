"""pydicom's process-wide settings, set in one place.

pydicom's value validation quotes the offending value in its warnings and
errors, and that value may be patient data.  It is switched off for reading
and writing: MammoDesk reports unusable files itself, without their values.
Every process that parses DICOM calls :func:`configure_pydicom` once at
start: the command line, and the worker processes of de-identification.
"""

from __future__ import annotations

import pydicom.config


def configure_pydicom() -> None:
    """Read and write DICOM without pydicom's value validation."""
    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    pydicom.config.settings.writing_validation_mode = pydicom.config.IGNORE
