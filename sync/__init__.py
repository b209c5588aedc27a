"""Everything that crosses a network or leaves the machine (de-identification,
outbox, DICOMweb client, model updates).  No Qt.  Filled in by the sync issues.
"""
