"""MammoDesk headless core: DICOM, case library, synthetic cohort.

Nothing in this package imports Qt or talks to a network (checked by
import-linter contracts in pyproject.toml).
"""
