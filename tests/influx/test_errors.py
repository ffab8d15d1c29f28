"""HTTP and network failures map onto one error tree: retryable vs permanent, with status, code, message
and retry_after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from app.influx import ScriptCreate
from app.influx.errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    InfluxError,
    InvokeTimeoutError,
    NotFoundError,
    PermanentError,
    RateLimitedError,
    RetryableError,
    ServerError,
    TransportError,
    UnauthorizedError,
    parse_retry_after,
)
from tests.influx.fakes import SCRIPT_ID, client_for, error


def _get_fails_with(response: httpx.Response) -> InfluxError:
    with client_for(lambda request: response) as client, pytest.raises(InfluxError) as caught:
        client.get(SCRIPT_ID)
    return caught.value


def test_401_is_a_permanent_unauthorized_error() -> None:
    exc = _get_fails_with(error(401, "unauthorized", "unauthorized access"))
    assert isinstance(exc, UnauthorizedError)
    assert isinstance(exc, PermanentError)
    assert (exc.status, exc.code, exc.message) == (401, "unauthorized", "unauthorized access")


def test_404_carries_the_servers_message() -> None:
    exc = _get_fails_with(error(404, "not found", f'script "{SCRIPT_ID}" not found'))
    assert isinstance(exc, NotFoundError)
    assert exc.message == f'script "{SCRIPT_ID}" not found'
    assert str(exc) == f'HTTP 404 not found: script "{SCRIPT_ID}" not found'


def test_422_on_create_is_a_conflict() -> None:
    response = error(422, "conflict", "uniqueness violation")
    with client_for(lambda request: response) as client, pytest.raises(ConflictError) as caught:
        client.create(ScriptCreate(name="dup", script="x"))
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        422,
        "conflict",
        "uniqueness violation",
    )
    assert not caught.value.retryable


def test_400_is_a_permanent_bad_request() -> None:
    exc = _get_fails_with(error(400, "invalid", "invalid parameters provided"))
    assert isinstance(exc, BadRequestError)
    assert exc.message == "invalid parameters provided"


def test_403_is_forbidden() -> None:
    assert isinstance(_get_fails_with(error(403, "forbidden", "no")), ForbiddenError)


def test_another_4xx_is_permanent() -> None:
    exc = _get_fails_with(httpx.Response(405))
    assert type(exc) is PermanentError
    assert exc.status == 405


def test_429_with_retry_after_seconds_is_rate_limited() -> None:
    exc = _get_fails_with(error(429, "too many requests", "org over limit", {"Retry-After": "30"}))
    assert isinstance(exc, RateLimitedError)
    assert isinstance(exc, RetryableError)
    assert exc.retry_after == 30.0


def test_429_with_retry_after_as_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    exc = _get_fails_with(
        error(429, "too many requests", "slow down", {"Retry-After": format_datetime(when, True)})
    )
    assert isinstance(exc, RateLimitedError)
    assert exc.retry_after is not None
    assert 100 <= exc.retry_after <= 121


def test_429_without_retry_after_has_none() -> None:
    exc = _get_fails_with(error(429, "too many requests", "cardinality"))
    assert exc.retry_after is None


def test_retry_after_date_in_the_past_is_zero() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_retry_after("Tue, 01 Jan 2029 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("Tue, 01 Jan 2030 00:00:10 GMT", now=now) == 10.0


@pytest.mark.parametrize("value", ["", "soon", "-5"])
def test_retry_after_garbage_or_negative(value: str) -> None:
    assert parse_retry_after(value) in (None, 0.0)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_gateway_and_unavailable_are_retryable_server_errors(status: int) -> None:
    exc = _get_fails_with(error(status, "unavailable", "try later", {"Retry-After": "5"}))
    assert isinstance(exc, ServerError)
    assert exc.retryable
    assert exc.status == status
    assert exc.retry_after == 5.0


def test_a_non_json_error_body_keeps_its_text_as_the_message() -> None:
    exc = _get_fails_with(httpx.Response(502, text="<html>Bad Gateway</html>"))
    assert isinstance(exc, ServerError)
    assert exc.code is None
    assert exc.message == "<html>Bad Gateway</html>"


def test_an_empty_error_body_uses_the_reason_phrase() -> None:
    exc = _get_fails_with(httpx.Response(503))
    assert exc.message == "Service Unavailable"


def test_the_code_falls_back_to_the_platform_error_header() -> None:
    exc = _get_fails_with(httpx.Response(404, text="nope", headers={"X-Platform-Error-Code": "not found"}))
    assert exc.code == "not found"


def test_a_refused_connection_is_a_retryable_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with client_for(handler) as client, pytest.raises(TransportError) as caught:
        client.list()
    assert caught.value.retryable
    assert caught.value.status is None
    assert "Connection refused" in caught.value.message


def test_a_timeout_is_a_retryable_timeout_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with client_for(handler) as client, pytest.raises(InvokeTimeoutError) as caught:
        client.get(SCRIPT_ID)
    assert caught.value.retryable


def test_an_http_error_on_invoke_raises_before_any_chunk() -> None:
    response = error(400, "invalid", "invalid parameters provided")
    client = client_for(lambda request: response)
    with pytest.raises(BadRequestError) as caught, client.invoke(SCRIPT_ID, {"x": 1}):
        pytest.fail("the body must not be entered")
    assert caught.value.message == "invalid parameters provided"


def test_a_429_on_invoke_carries_retry_after() -> None:
    response = error(429, "too many requests", "over limit", {"Retry-After": "7"})
    client = client_for(lambda request: response)
    with pytest.raises(RateLimitedError) as caught, client.invoke(SCRIPT_ID):
        pass
    assert caught.value.retry_after == 7.0


def test_a_refused_connection_on_invoke_is_a_transport_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with client_for(handler) as client, pytest.raises(TransportError), client.invoke(SCRIPT_ID):
        pass
