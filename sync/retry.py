"""When to try again: the server's Retry-After, and exponential backoff with jitter.

The sync loop waits ``Backoff.delay(attempt, retry_after)`` seconds after a
transient failure.  The delay is "full jitter" (AWS Architecture Blog,
"Exponential Backoff And Jitter"): uniform between zero and an exponentially
growing ceiling, so many workstations that lost the same link do not all come
back at the same second.  A server that says how long to wait is obeyed, up to
an hour (a broken or hostile header must not park the queue for days).
"""

from __future__ import annotations

import math
import random
import time
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["MAX_RETRY_AFTER", "Backoff", "parse_retry_after"]

MAX_RETRY_AFTER = 3600.0  # seconds: the longest a Retry-After header can hold the queue


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 section 10.2.3).

    Takes delta-seconds (``"120"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, compared with ``now``, default the
    current time).  A time in the past gives 0.  Missing or unreadable: None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.lstrip("+-").replace(".", "", 1).isdigit():
        try:
            seconds = float(text)
        except ValueError:
            return None
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; obsolete forms may omit the zone
        when = when.replace(tzinfo=UTC)
    try:
        target = when.timestamp()
    except (OverflowError, OSError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, target - current)


class Backoff:
    """Exponential backoff with full jitter.

    ``delay(n)`` for the n-th retry (0, 1, 2, ...) is uniform in
    ``[0, min(cap, base * 2**n)]``; with ``retry_after`` it is at least that
    (at most ``MAX_RETRY_AFTER``).
    """

    def __init__(self, base: float = 2.0, cap: float = 600.0,
                 rng: random.Random | None = None) -> None:
        if not base > 0:
            raise ValueError("base must be positive")
        if not cap >= 0:
            raise ValueError("cap must not be negative")
        self.base = float(base)
        self.cap = float(cap)
        self._rng = rng if rng is not None else random.Random()

    def ceiling(self, attempt: int) -> float:
        """The largest delay ``delay(attempt)`` can draw without a Retry-After."""
        attempt = max(0, int(attempt))
        # Bounded exponent: 2.0**1024 overflows a float; the cap wins long before.
        return min(self.cap, self.base * 2.0 ** min(attempt, 1000))

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (counting from 0)."""
        wait = self._rng.uniform(0.0, self.ceiling(attempt))
        if retry_after is not None and math.isfinite(retry_after):
            wait = max(wait, min(max(0.0, retry_after), MAX_RETRY_AFTER))
        return wait
