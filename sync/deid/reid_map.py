"""The re-identification map: pseudonym -> who it was, kept only here.

Each row is sealed with AES-256-GCM under the workstation's map key (from the
keyring), with the pseudonym as associated data, so a row cannot be moved to
another pseudonym and the library file alone reveals nothing.  It lets a
doctor match feedback from the cloud (which only knows pseudonyms) to the
patient and study; it never leaves the machine.
"""

from __future__ import annotations

import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engine.library import Library
from engine.library.reid_store import get_sealed, put_sealed
from sync.deid.errors import DeidKeyError

NONCE_BYTES = 12


class ReidMap:
    def __init__(self, library: Library, map_key: bytes) -> None:
        self.library = library
        self._aead = AESGCM(map_key)
        self._known: set[str] = set()

    def _seal(self, pseudonym: str, record: dict[str, str]) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(record, sort_keys=True).encode("utf-8")
        return nonce + self._aead.encrypt(nonce, plain, pseudonym.encode("utf-8"))

    def record(self, entries: list[tuple[str, str, dict[str, str]]]) -> None:
        """Store (pseudonym, kind, original) entries not stored yet."""
        rows = [(p, k, self._seal(p, rec)) for p, k, rec in entries if p not in self._known]
        if rows:
            put_sealed(self.library, rows)
            self._known.update(p for p, _, _ in rows)

    def lookup(self, pseudonym: str) -> dict[str, str] | None:
        found = get_sealed(self.library, pseudonym)
        if found is None:
            return None
        kind, sealed = found
        try:
            plain = self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:],
                                       pseudonym.encode("utf-8"))
        except InvalidTag:
            raise DeidKeyError("the re-identification map cannot be opened with this "
                               "workstation's key (a different keyring?)") from None
        return {"kind": kind, **json.loads(plain)}
