"""The site's de-identification keys, kept in the system keyring only.

- The site secret keys every pseudonym (HMAC-SHA256): UIDs, patient IDs and
  names, date shifts.  Every workstation of one site holds the same secret
  (created on the first, imported on the others), so one patient gets one
  pseudonym across the site and a different one at any other site.
- The map key seals this workstation's re-identification map; it is made on
  first use and never leaves the machine.

Without a usable keyring every call fails with the same one line as the
cloud secrets (sync/credentials.py), pointing to the README's recipe.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass

import keyring

from sync.credentials import KEYRING_FAILURES, keyring_problem
from sync.deid.errors import DeidKeyError

SERVICE = "MammoDesk"
SECRET_ENTRY = "deid-site-secret"
MAP_KEY_ENTRY = "deid-reid-map-key"
KEY_BYTES = 32
NO_SITE_KEY = ("no de-identification key for this site in the keyring: run "
               "`main.py deid-key create` on the first workstation, "
               "`main.py deid-key import` on the others")


@dataclass(frozen=True, repr=False)
class SiteKeys:
    secret: bytes
    map_key: bytes

    def fingerprint(self) -> str:
        """A short, non-secret name for the site secret (to compare workstations)."""
        return hashlib.sha256(b"mammodesk-fingerprint\0" + self.secret).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the secrets
        return f"SiteKeys(fingerprint={self.fingerprint()})"


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode(text: str, what: str) -> bytes:
    text = text.strip()
    try:
        raw = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.urlsafe_b64decode(text)
    except (ValueError, binascii.Error):
        raise DeidKeyError(f"the {what} is not a valid key (base64 or hex of 32 bytes)") from None
    if len(raw) != KEY_BYTES:
        raise DeidKeyError(f"the {what} must be 32 bytes, not {len(raw)}")
    return raw


def _get(entry: str) -> str | None:
    try:
        return keyring.get_password(SERVICE, entry)
    except KEYRING_FAILURES as exc:
        raise DeidKeyError(keyring_problem(exc, "read the site's de-identification key")
                           ) from None


def _set(entry: str, value: str) -> None:
    try:
        keyring.set_password(SERVICE, entry, value)
    except KEYRING_FAILURES as exc:
        raise DeidKeyError(keyring_problem(exc, "store the de-identification key")) from None


def has_site_key() -> bool:
    """Whether this workstation holds the site's key (a keyring failure raises)."""
    return _get(SECRET_ENTRY) is not None


def _map_key() -> bytes:
    stored = _get(MAP_KEY_ENTRY)
    if stored is None:
        raw = os.urandom(KEY_BYTES)
        _set(MAP_KEY_ENTRY, _encode(raw))
        return raw
    return _decode(stored, "re-identification map key")


def load_site_keys() -> SiteKeys:
    """The keys from the keyring; a clear error when the site secret is missing."""
    stored = _get(SECRET_ENTRY)
    if stored is None:
        raise DeidKeyError(NO_SITE_KEY)
    return SiteKeys(secret=_decode(stored, "site secret in the keyring"), map_key=_map_key())


def create_site_secret() -> SiteKeys:
    if _get(SECRET_ENTRY) is not None:
        raise DeidKeyError("this workstation already has a site key; replacing it would "
                           "change every pseudonym (use `deid-key import --replace` on purpose)")
    _set(SECRET_ENTRY, _encode(os.urandom(KEY_BYTES)))
    return load_site_keys()


def import_site_secret(text: str, *, replace: bool = False) -> SiteKeys:
    raw = _decode(text, "site key given")
    if _get(SECRET_ENTRY) is not None and not replace:
        raise DeidKeyError("this workstation already has a site key; add --replace to "
                           "overwrite it (every pseudonym made from now on changes)")
    _set(SECRET_ENTRY, _encode(raw))
    return load_site_keys()


def export_site_secret() -> str:
    return _encode(load_site_keys().secret)
