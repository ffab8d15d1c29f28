"""The delivery retry policy.

Retried: network errors and timeouts, HTTP 408, 429 (``Retry-After`` honoured) and 5xx; an unreachable
result store or S3. Not retried: 3xx (redirects are never followed), any other 4xx (410 Gone included),
URLs the network policy refuses. Attempts back off exponentially from ``DELIVERY_BACKOFF_BASE_S`` to
``DELIVERY_BACKOFF_CAP_S`` with full jitter over the upper half, for ``settings.delivery_retry_period_s``
from the start of the attempt series; the next attempt is a WAITING row with ``next_attempt_at`` that
the beat sends when due (never a broker countdown).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from app import constants

RETRYABLE_STATUS = frozenset({408, 429})


def is_success(status: int) -> bool:
    return 200 <= status < 300


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def backoff_s(
    attempt: int,
    *,
    retry_after_s: float | None = None,
    base_s: float = constants.DELIVERY_BACKOFF_BASE_S,
    cap_s: float = constants.DELIVERY_BACKOFF_CAP_S,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds before attempt ``attempt + 1``: capped exponential with jitter, or ``Retry-After``
    (itself capped at ``DELIVERY_RETRY_AFTER_MAX_S``) when the destination asked for longer."""
    ceiling = min(cap_s, base_s * 2 ** max(attempt - 1, 0))
    delay = ceiling / 2 + rand() * ceiling / 2
    if retry_after_s is not None and retry_after_s > 0:
        delay = max(delay, min(retry_after_s, constants.DELIVERY_RETRY_AFTER_MAX_S))
    return delay


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """``Retry-After`` as seconds from ``now`` (delta-seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max((when - now).total_seconds(), 0.0)


def next_attempt(
    attempt: int,
    *,
    now: datetime,
    retry_until: datetime | None,
    retry_after_s: float | None,
    rand: Callable[[], float] = random.random,
) -> datetime | None:
    """When to try again, or None when the retry period would be over by then."""
    if retry_until is None or now >= retry_until:
        return None
    due = now + timedelta(seconds=backoff_s(attempt, retry_after_s=retry_after_s, rand=rand))
    if due <= retry_until:
        return due
    if retry_after_s is not None and now + timedelta(seconds=retry_after_s) > retry_until:
        return None  # the destination asked to wait past the end of the period
    return retry_until  # one last attempt at the end of the period
