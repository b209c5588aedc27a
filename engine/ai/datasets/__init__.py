"""Training-data adapters: the synthetic phantom cohort and public mammography
datasets (CBIS-DDSM, VinDr-Mammo, RSNA 2023) read into one per-image record
format, ImageRecord.
"""

from engine.ai.datasets.cbis_ddsm import read_cbis_ddsm
from engine.ai.datasets.detect import KINDS, detect_kind, read_dataset
from engine.ai.datasets.phantom import read_phantom_labels
from engine.ai.datasets.records import Box, ImageRecord, split_by_patient, summarize
from engine.ai.datasets.rsna import read_rsna_2023
from engine.ai.datasets.vindr import read_vindr_mammo

__all__ = [
    "KINDS",
    "Box",
    "ImageRecord",
    "detect_kind",
    "read_cbis_ddsm",
    "read_dataset",
    "read_phantom_labels",
    "read_rsna_2023",
    "read_vindr_mammo",
    "split_by_patient",
    "summarize",
]
