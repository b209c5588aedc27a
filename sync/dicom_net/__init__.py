"""DICOM networking with PACS and modalities (pynetdicom)."""
