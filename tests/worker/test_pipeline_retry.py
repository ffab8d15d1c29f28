"""Backoff: capped exponential with jitter; the server's Retry-After is a floor."""

from __future__ import annotations

import pytest

from worker.pipeline.retry import backoff_s, should_retry


@pytest.mark.parametrize(("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (4, 16.0), (9, 60.0)])
def test_backoff_doubles_per_attempt_up_to_the_cap(attempt: int, ceiling: float) -> None:
    assert backoff_s(attempt, base_s=2.0, cap_s=60.0, rand=lambda: 1.0) == ceiling


def test_jitter_keeps_the_delay_between_half_the_ceiling_and_the_ceiling() -> None:
    low = backoff_s(3, base_s=2.0, cap_s=60.0, rand=lambda: 0.0)
    middle = backoff_s(3, base_s=2.0, cap_s=60.0, rand=lambda: 0.5)
    assert (low, middle) == (4.0, 6.0)


def test_retry_after_is_honoured_when_longer_than_the_backoff() -> None:
    assert backoff_s(1, base_s=1.0, cap_s=10.0, retry_after_s=30.0, rand=lambda: 0.5) == 30.0


def test_a_short_retry_after_does_not_shorten_the_backoff() -> None:
    assert backoff_s(3, base_s=1.0, cap_s=10.0, retry_after_s=0.5, rand=lambda: 1.0) == 4.0


def test_retries_stop_at_max_attempts() -> None:
    assert [should_retry(n, 3) for n in (1, 2, 3, 4)] == [True, True, False, False]
