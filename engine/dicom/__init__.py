"""DICOM reading for mammography: files, headers, views and pixels (no Qt, no network)."""

from engine.dicom.header import InstanceHeader, instance_header
from engine.dicom.integrity import pixel_data_problem
from engine.dicom.pixels import decode_pixels, supported_transfer_syntaxes
from engine.dicom.reader import NotDicomError, read_dataset
from engine.dicom.views import ViewInfo, identify_view
from engine.errors import DecodeError, DicomReadError

__all__ = [
    "DecodeError",
    "DicomReadError",
    "InstanceHeader",
    "NotDicomError",
    "ViewInfo",
    "decode_pixels",
    "identify_view",
    "instance_header",
    "pixel_data_problem",
    "read_dataset",
    "supported_transfer_syntaxes",
]
