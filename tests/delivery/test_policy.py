"""The delivery retry policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import constants
from worker.delivery import policy

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
def test_retryable_statuses(status: int) -> None:
    assert policy.is_retryable_status(status)


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 410, 413, 422])
def test_final_statuses(status: int) -> None:
    assert not policy.is_retryable_status(status)
    assert not policy.is_success(status)


def test_backoff_grows_and_is_capped() -> None:
    lows = [policy.backoff_s(n, rand=lambda: 0.0) for n in range(1, 20)]
    highs = [policy.backoff_s(n, rand=lambda: 1.0) for n in range(1, 20)]
    assert lows[0] == constants.DELIVERY_BACKOFF_BASE_S / 2
    assert lows == sorted(lows)
    assert max(highs) == constants.DELIVERY_BACKOFF_CAP_S


def test_retry_after_is_honoured_and_capped() -> None:
    assert policy.backoff_s(1, retry_after_s=600, rand=lambda: 0.0) == 600
    assert policy.backoff_s(1, retry_after_s=10**9, rand=lambda: 0.0) == constants.DELIVERY_RETRY_AFTER_MAX_S


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert policy.parse_retry_after("120", now=NOW) == 120
    assert policy.parse_retry_after("Thu, 26 Nov 2026 12:05:00 GMT", now=NOW) == 300
    assert policy.parse_retry_after("soon", now=NOW) is None
    assert policy.parse_retry_after(None, now=NOW) is None


def test_next_attempt_within_the_period() -> None:
    due = policy.next_attempt(
        1, now=NOW, retry_until=NOW + timedelta(hours=1), retry_after_s=None, rand=lambda: 0
    )
    assert due == NOW + timedelta(seconds=constants.DELIVERY_BACKOFF_BASE_S / 2)


def test_last_attempt_lands_on_the_end_of_the_period() -> None:
    until = NOW + timedelta(seconds=5)
    assert policy.next_attempt(9, now=NOW, retry_until=until, retry_after_s=None) == until


def test_no_attempt_after_the_period() -> None:
    assert policy.next_attempt(1, now=NOW, retry_until=NOW, retry_after_s=None) is None
    assert policy.next_attempt(1, now=NOW, retry_until=NOW + timedelta(seconds=5), retry_after_s=60) is None
