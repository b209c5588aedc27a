"""De-identification: the border every object crosses before it leaves the
workstation.

DICOM PS3.15 Annex E Table E.1-1 (edition 2024b, shipped in resources/deid)
with the Basic profile and switchable options, keyed pseudonyms under a
per-site secret kept in the system keyring, mammogram pixels blanked outside
the breast, quarantine of objects that cannot be cleaned, and a leak check
that blocks any object still carrying an identifier harvested from its input.
"""
