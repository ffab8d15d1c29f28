"""Sending one signed webhook request, and judging the answer.

The client never follows redirects (a 3xx is a permanent failure); the response body is read only up
to a short excerpt (kept in ``last_error``), so a hostile receiver cannot fill the worker's memory.
Network policy: the client's transport (transport.PinnedTransport) checks the address at send time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import IO

import httpx

from app import constants
from app.netpolicy import HostNotResolved, UrlNotAllowed
from worker.delivery import policy, signing
from worker.delivery.errors import PermanentDeliveryError, RetryableDeliveryError
from worker.delivery.transport import PinnedTransport

USER_AGENT = "scriptcron-webhooks/1"


def make_webhook_client(*, allow_loopback: bool, allow_private: bool) -> httpx.Client:
    """The worker's webhook client: SSRF-checked at send time, no redirects, bounded timeouts."""
    return httpx.Client(
        transport=PinnedTransport(allow_loopback=allow_loopback, allow_private=allow_private),
        follow_redirects=False,
        timeout=httpx.Timeout(constants.WEBHOOK_READ_TIMEOUT_S, connect=constants.WEBHOOK_CONNECT_TIMEOUT_S),
        headers={"user-agent": USER_AGENT},
    )


def host_of(url: str) -> str:
    try:
        return httpx.URL(url).host or "?"
    except httpx.InvalidURL:
        return "?"


def _excerpt(response: httpx.Response) -> str:
    limit = constants.WEBHOOK_RESPONSE_EXCERPT_CHARS
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= limit:
            break
    return data[:limit].decode("utf-8", "replace").strip()


def judge(response: httpx.Response, *, host: str, now: datetime) -> int:
    """The status code on success; raise the delivery error the answer means otherwise."""
    status = response.status_code
    if policy.is_success(status):
        return status
    excerpt = _excerpt(response)
    detail = f"webhook {host} answered {status}" + (f": {excerpt}" if excerpt else "")
    if 300 <= status < 400:
        raise PermanentDeliveryError(f"{detail} (redirects are not followed)", status_code=status)
    if policy.is_retryable_status(status):
        retry_after = policy.parse_retry_after(response.headers.get("retry-after"), now=now)
        raise RetryableDeliveryError(detail, status_code=status, retry_after_s=retry_after)
    raise PermanentDeliveryError(detail, status_code=status)


def post(
    client: httpx.Client,
    url: str,
    *,
    body: bytes | Iterable[bytes],
    headers: dict[str, str],
    now: datetime,
) -> int:
    """POST once; return the 2xx status or raise Retryable/PermanentDeliveryError."""
    host = host_of(url)
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            return judge(response, host=host, now=now)
    except HostNotResolved as exc:
        raise RetryableDeliveryError(str(exc)) from None
    except UrlNotAllowed as exc:
        raise PermanentDeliveryError(str(exc)) from None
    except httpx.TimeoutException as exc:
        raise RetryableDeliveryError(f"webhook {host}: timeout ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        raise RetryableDeliveryError(f"webhook {host}: {type(exc).__name__}") from None


def send_event(
    client: httpx.Client, url: str, *, secret: str, message_id: str, body: bytes, now: datetime
) -> int:
    """A signed JSON event."""
    timestamp = int(now.timestamp())
    signature = signing.sign_bytes(secret, message_id, timestamp, body)
    headers = {**signing.headers(message_id, timestamp, signature), "content-type": "application/json"}
    return post(client, url, body=body, headers=headers, now=now)


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    while chunk := stream.read(constants.RESULT_COPY_CHUNK_BYTES):
        yield chunk


def send_csv(
    client: httpx.Client,
    url: str,
    *,
    secret: str,
    message_id: str,
    open_csv: Callable[[], AbstractContextManager[IO[bytes]]],
    max_bytes: int,
    now: datetime,
) -> int:
    """The CSV itself as a signed ``text/csv`` body, streamed: one pass to sign (and measure, refusing
    above ``max_bytes``), one pass to send with ``Content-Length``."""
    timestamp = int(now.timestamp())
    with open_csv() as first:
        signature, length = signing.sign_chunks(
            secret, message_id, timestamp, _capped(_chunks(first), max_bytes)
        )
    headers = {
        **signing.headers(message_id, timestamp, signature),
        "content-type": "text/csv; charset=utf-8",
        "content-length": str(length),
    }
    with open_csv() as second:
        return post(client, url, body=_chunks(second), headers=headers, now=now)


def _capped(chunks: Iterator[bytes], max_bytes: int) -> Iterator[bytes]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > max_bytes:
            raise PermanentDeliveryError(
                f"CSV is larger than webhook_csv_max_bytes ({max_bytes} bytes); not sent in csv mode"
            )
        yield chunk
