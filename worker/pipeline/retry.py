"""Retry policy: capped exponential backoff with full jitter, honouring the server's ``Retry-After``."""

from __future__ import annotations

import random
from collections.abc import Callable


def backoff_s(
    attempt: int,
    *,
    base_s: float,
    cap_s: float,
    retry_after_s: float | None = None,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before the attempt after ``attempt`` (1-based) failed.

    "Equal jitter": a uniform draw between half and all of ``min(cap, base * 2 ** (attempt - 1))``, so
    retries of many invocations spread out but never come back at once. A server ``Retry-After`` is a
    floor: we never come back earlier than the server asked (even above the cap: the server knows best).
    """
    ceiling = min(cap_s, base_s * (2 ** max(0, attempt - 1)))
    delay = ceiling / 2 + rand() * ceiling / 2
    if retry_after_s is not None and retry_after_s > delay:
        return float(retry_after_s)
    return delay


def should_retry(attempts: int, max_attempts: int) -> bool:
    """True while attempts made so far are fewer than the schedule allows."""
    return attempts < max_attempts
