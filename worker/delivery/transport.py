"""An httpx transport that enforces the webhook network policy when SENDING.

Every request's host is resolved and judged (app.netpolicy.check_webhook_url) right before the
connection is made, and the connection goes to the address that was checked: the URL's host is replaced
by that IP, while the ``Host`` header and the TLS SNI / certificate check keep the original name. So a
DNS answer that changes after the check (rebinding) cannot send a webhook to an internal address.
Connections are pooled per host name, never shared between names that share an IP.
Redirects are the client's business: scriptcron's webhook client never follows them.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from app.netpolicy import Resolver, check_webhook_url


class PinnedTransport(httpx.BaseTransport):
    """Resolve, check, then connect to the checked address (see the module docstring)."""

    def __init__(
        self,
        *,
        allow_loopback: bool,
        allow_private: bool,
        resolver: Resolver | None = None,
        **transport_kwargs: Any,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.allow_private = allow_private
        self.resolver = resolver
        self._transport_kwargs = transport_kwargs
        self._transports: dict[tuple[str, str, int | None], httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def _transport_for(self, url: httpx.URL) -> httpx.HTTPTransport:
        key = (url.scheme, url.host, url.port)
        with self._lock:
            transport = self._transports.get(key)
            if transport is None:
                transport = self._transports[key] = httpx.HTTPTransport(**self._transport_kwargs)
            return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        original = request.url
        addresses = check_webhook_url(
            str(original),
            allow_loopback=self.allow_loopback,
            allow_private=self.allow_private,
            resolver=self.resolver,
        )
        transport = self._transport_for(original)
        request.extensions = {**request.extensions, "sni_hostname": original.host}
        last_error: httpx.ConnectError | None = None
        for address in addresses:
            request.url = original.copy_with(host=str(address))
            try:
                return transport.handle_request(request)
            except httpx.ConnectError as exc:  # try the host's next address
                last_error = exc
            finally:
                request.url = original
        assert last_error is not None
        raise last_error

    def close(self) -> None:
        with self._lock:
            transports = list(self._transports.values())
            self._transports.clear()
        for transport in transports:
            transport.close()
