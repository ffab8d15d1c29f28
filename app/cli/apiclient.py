"""The CLI's client of the scriptcron API (``--api-url``/``SCRIPTCRON_API_URL``,
``--api-token``/``SCRIPTCRON_API_TOKEN``; without a token, the first of the local settings' API tokens).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer

from app.cli import output

DEFAULT_TIMEOUT_S = 30.0
API_PREFIX = "/api/v1"

ApiUrlOpt = Annotated[
    str | None,
    typer.Option("--api-url", envvar="SCRIPTCRON_API_URL", help="scriptcron API URL (default: settings)."),
]
ApiTokenOpt = Annotated[
    str | None,
    typer.Option(
        "--api-token", envvar="SCRIPTCRON_API_TOKEN", help="scriptcron API token.", show_default=False
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class ApiError(Exception):
    """Raised when the API answers with an error (``code``, ``message``) or cannot be reached."""

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.status = message, code, status


class ApiClient:
    """Thin JSON client; every path is relative to ``/api/v1`` unless it starts with ``//``."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "scriptcron-cli"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        url = path[1:] if path.startswith("//") else API_PREFIX + path
        try:
            response = self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach the API at {self.http.base_url}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                code, message = body.get("code"), body.get("message", response.text)
            except ValueError:
                code, message = None, response.text or response.reason_phrase
            raise ApiError(str(message), code, response.status_code)
        return response

    def get(self, path: str, **params: Any) -> Any:
        clean = {k: v for k, v in params.items() if v is not None}
        return self.request("GET", path, params=clean).json()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.request("POST", path, json=body)
        return response.json() if response.content else None

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()

    def delete(self, path: str) -> None:
        self.request("DELETE", path)


def make_client(api_url: str | None, api_token: str | None) -> ApiClient:
    """The client every command uses (tests may replace this to inject a transport)."""
    from app.settings import get_settings

    settings = get_settings()
    url = api_url or settings.api_public_url
    token = api_token or (settings.api_tokens[0].get_secret_value() if settings.api_tokens else None)
    if not token:
        output.usage_error("no API token: pass --api-token or set SCRIPTCRON_API_TOKEN")
    return ApiClient(url, token)


@contextmanager
def api(api_url: str | None, api_token: str | None) -> Iterator[ApiClient]:
    """A client for one command; an API error prints ``error: <code>: <message>`` and exits 1."""
    client = make_client(api_url, api_token)
    try:
        yield client
    except ApiError as exc:
        output.fail(exc.message, exc.code)
    finally:
        client.close()
