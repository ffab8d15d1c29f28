"""The token travels in the Authorization header and nowhere else: not in reprs, errors or logs."""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest

from app.influx.errors import InfluxError
from tests.influx.fakes import SCRIPT_ID, TOKEN, Handler, client_for, csv_response, error


def test_the_client_repr_and_str_hide_the_token() -> None:
    client = client_for(lambda request: httpx.Response(204))
    assert TOKEN not in repr(client)
    assert TOKEN not in str(client)
    assert TOKEN not in repr(vars(client).get("_http"))


def _refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("refused", request=request)


def _stall(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("slow", request=request)


@pytest.mark.parametrize(
    "answer",
    [
        lambda request: error(401, "unauthorized", "unauthorized access"),
        lambda request: httpx.Response(500, text="boom"),
        _refuse,
        _stall,
    ],
    ids=["401", "500", "connect-error", "timeout"],
)
def test_errors_never_contain_the_token(answer: Handler, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with client_for(answer) as client, pytest.raises(InfluxError) as caught:
        client.get(SCRIPT_ID)
    exc = caught.value
    texts = [str(exc), repr(exc), exc.message, "".join(traceback.format_exception(exc))]
    assert all(TOKEN not in text for text in texts)
    assert TOKEN not in caplog.text


def test_the_request_headers_repr_masks_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    with client_for(handler) as client:
        client.delete(SCRIPT_ID)
    assert TOKEN not in repr(seen[0].headers)


def test_debug_logs_of_a_streamed_invoke_never_show_the_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(lambda request: csv_response(b"a\r\n\r\n"))
    with client.invoke(SCRIPT_ID, {"p": 1}) as result:
        list(result.iter_bytes())
    assert caplog.records  # the client does log its calls at DEBUG
    assert TOKEN not in caplog.text
