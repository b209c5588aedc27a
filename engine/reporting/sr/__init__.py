"""Building blocks of MammoDesk's DICOM Structured Reports (PS3.3 C.17): coded concepts,
content items, the patient and study identity, and the document skeleton and its writer."""
