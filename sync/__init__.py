"""Everything that crosses a network or leaves the machine.  No Qt.

- ``sync.deid``: de-identification (DICOM PS3.15 Annex E, the table shipped in
  ``resources``), the leak check and ``anonymize``;
- the sync loop (``runner``, ``stage``, ``stage_pool``): de-identify and stage
  what the library's outbox holds, upload it with STOW-RS, confirm it with
  QIDO-RS (``dicomweb``, ``multipart``, ``stow_response``);
- the HTTP layer (``http``, ``transport``, ``bounded``, ``retry``): verified
  TLS with the hospital's own CA, size caps, deadlines and backoff;
- sign-in and secrets (``auth``, ``credentials``), the cloud settings
  (``config``), what sync is doing (``progress``, ``status``) and the
  ``sync`` and ``login`` commands (``commands``, ``service``).

Planned: signed model updates (a TUF client) and DICOM networking.
"""
