"""How long the sync queue waits: Retry-After as servers send it, and backoff
with full jitter that grows, stays under its cap and obeys the server."""

from __future__ import annotations

import random
import statistics
from email.utils import formatdate

import pytest

from sync.retry import MAX_RETRY_AFTER, Backoff, parse_retry_after

NOW = 1_700_000_000.0


@pytest.mark.parametrize("value,expected", [
    ("7", 7.0), (" 120 ", 120.0), ("0", 0.0), ("-5", 0.0), ("1.5", 1.5),
])
def test_delta_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_http_date_in_the_future():
    header = formatdate(NOW + 90, usegmt=True)  # e.g. "Tue, 14 Nov 2023 22:14:50 GMT"
    assert parse_retry_after(header, now=NOW) == pytest.approx(90, abs=1)


def test_http_date_in_the_past_means_now():
    assert parse_retry_after(formatdate(NOW - 3600, usegmt=True), now=NOW) == 0.0


def test_obsolete_date_forms_are_read():
    # RFC 850 and asctime forms still appear in the wild (RFC 9110 section 5.6.7).
    assert parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now=784111777 - 10) == \
        pytest.approx(10, abs=1)
    assert parse_retry_after("Sun Nov  6 08:49:37 1994", now=784111777 - 10) == \
        pytest.approx(10, abs=1)


@pytest.mark.parametrize("value", [None, "", "soon", "inf", "nan", "1e999", "Mon, 99 Foo"])
def test_absent_or_garbage_is_none(value):
    assert parse_retry_after(value, now=NOW) is None


def test_full_jitter_stays_within_the_exponential_ceiling():
    backoff = Backoff(base=2.0, cap=600.0, rng=random.Random(11))
    for attempt in range(12):
        ceiling = min(600.0, 2.0 * 2**attempt)
        samples = [backoff.delay(attempt) for _ in range(2000)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Full jitter: the whole range is used, from near zero to near the ceiling.
        assert min(samples) < 0.05 * ceiling
        assert max(samples) > 0.95 * ceiling


def test_delays_grow_then_stop_at_the_cap():
    backoff = Backoff(base=1.0, cap=60.0, rng=random.Random(5))
    means = [statistics.fmean(backoff.delay(n) for _ in range(3000)) for n in range(8)]
    assert means[0] < means[2] < means[4] < means[5]
    assert means[6] == pytest.approx(30, rel=0.1)  # uniform(0, 60)
    assert means[7] == pytest.approx(30, rel=0.1)
    assert 0 <= backoff.delay(10**6) <= 60.0  # no overflow on a queue stuck for weeks


def test_server_retry_after_is_a_floor():
    backoff = Backoff(base=1.0, cap=600.0, rng=random.Random(3))
    assert all(backoff.delay(0, retry_after=30) >= 30 for _ in range(500))
    # Jitter above the floor still counts: attempt 9 ceilings at 512 s.
    assert max(backoff.delay(9, retry_after=30) for _ in range(500)) > 300


def test_absurd_retry_after_is_limited():
    backoff = Backoff(rng=random.Random(1))
    assert backoff.delay(0, retry_after=10**9) == MAX_RETRY_AFTER == 3600.0
    assert backoff.delay(0, retry_after=-5) <= 2.0


def test_same_seed_same_delays():
    one, two = Backoff(rng=random.Random(42)), Backoff(rng=random.Random(42))
    assert [one.delay(n) for n in range(10)] == [two.delay(n) for n in range(10)]


def test_rejects_nonsense_settings():
    with pytest.raises(ValueError):
        Backoff(base=0)
    with pytest.raises(ValueError):
        Backoff(cap=-1)
