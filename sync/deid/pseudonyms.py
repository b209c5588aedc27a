"""Keyed pseudonyms: HMAC-SHA256 under the site secret.

The same input always gives the same output on one site and an unrelated one
on any other site; nothing can be reversed without the secret.  Each kind of
value is keyed in its own domain so that, say, a patient ID and a UID with
the same text do not share a pseudonym.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

MAX_SHIFT_DAYS = 3650  # dates move back by 1 day .. 10 years, per patient


class Pseudonymizer:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._uids: dict[str, str] = {}

    def _mac(self, domain: str, value: str) -> bytes:
        message = domain.encode("ascii") + b"\0" + value.encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """``2.25.<integer>``: a version 8 (custom) UUID made of the keyed hash."""
        original = original.strip("\0 ")
        found = self._uids.get(original)
        if found is None:
            n = int.from_bytes(self._mac("uid", original)[:16], "big")
            n = (n & ~(0xF000 << 64)) | (0x8000 << 64)  # version 8
            n = (n & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
            found = self._uids[original] = f"2.25.{n}"
        return found

    def patient_key(self, patient_id: str, issuer: str = "") -> str:
        """The identity pseudonyms are keyed on (ID within its issuer)."""
        return f"{issuer.strip()}\0{patient_id.strip()}"

    def patient_id(self, key: str) -> str:
        code = base64.b32encode(self._mac("patient-id", key)[:10]).decode("ascii")
        return f"MD{code}"  # 18 characters, [A-Z2-7]

    def patient_name(self, key: str) -> str:
        return f"ANON^{self.patient_id(key)}"

    def date_shift_days(self, key: str) -> int:
        """Days to move this patient's dates back: the same for all their studies."""
        return 1 + int.from_bytes(self._mac("date-shift", key)[:4], "big") % MAX_SHIFT_DAYS


def shift_date(value: str, days: int) -> str | None:
    """A DA value moved back by ``days``; None when it is not a full date."""
    value = value.strip()
    try:
        day = dt.datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return None
    return (day - dt.timedelta(days=days)).strftime("%Y%m%d")


def shift_datetime(value: str, days: int) -> str | None:
    """A DT value with its date part moved back; time and offset kept."""
    value = value.strip()
    if len(value) < 8:
        return None
    shifted = shift_date(value[:8], days)
    return None if shifted is None else shifted + value[8:]
