"""The webhook transport checks the address at send time and connects to the address it checked."""

from __future__ import annotations

import httpx
import pytest

from app.netpolicy import UrlNotAllowed
from tests.delivery.support import Receiver
from worker.delivery.transport import PinnedTransport

pytestmark = pytest.mark.integration


def client(resolver: object, *, allow_loopback: bool) -> httpx.Client:
    return httpx.Client(
        transport=PinnedTransport(allow_loopback=allow_loopback, allow_private=False, resolver=resolver),  # type: ignore[arg-type]
        follow_redirects=False,
    )


def test_connects_to_the_checked_address_with_the_original_host_header(receiver: Receiver) -> None:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    with client(resolve, allow_loopback=True) as http:
        response = http.post(f"http://hooks.example.test:{receiver.port}/hook", content=b"{}")
    assert response.status_code == 200
    assert calls == ["hooks.example.test"]
    assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"


def test_a_name_resolving_to_the_metadata_address_is_refused_before_connecting() -> None:
    with (
        client(lambda host, port: ["169.254.169.254"], allow_loopback=True) as http,
        pytest.raises(UrlNotAllowed, match="cloud metadata"),
    ):
        http.post("http://innocent.example.test/hook", content=b"{}")


def test_dns_rebinding_after_the_save_time_check_is_caught_when_sending(receiver: Receiver) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    from app.netpolicy import check_webhook_url

    url = f"http://rebind.example.test:{receiver.port}/hook"
    check_webhook_url(url, allow_loopback=False, allow_private=False, resolver=rebinding)  # save time: fine
    with client(rebinding, allow_loopback=False) as http, pytest.raises(UrlNotAllowed, match="loopback"):
        http.post(url, content=b"{}")
    assert receiver.received == []


def test_the_next_address_is_tried_when_one_refuses_connections(receiver: Receiver) -> None:
    down = Receiver()  # a port nobody listens on
    with (
        client(lambda host, port: ["127.0.0.1"], allow_loopback=True) as http,
        pytest.raises(httpx.ConnectError),
    ):
        http.post(down.url, content=b"{}")
    with client(lambda host, port: ["127.0.0.2", "127.0.0.1"], allow_loopback=True) as http:
        assert http.post(f"http://two.example.test:{receiver.port}/hook", content=b"{}").status_code == 200
