"""A synchronous client for the InfluxDB invocable-scripts API (all seven calls of the contract).

The base URL, the token and the timeouts come from the caller; pass ``client=`` to share an
``httpx.Client`` (connection pooling) or to swap the transport in tests. The token is sent as
``Authorization: Token <token>`` on each request and appears in no log line, error message or repr.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from app import __version__, constants
from app.influx.errors import ResponseFormatError, error_from_response, error_from_transport
from app.influx.models import Script, ScriptCreate, ScriptUpdate
from app.influx.stream import InvokeResult

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(constants.INFLUX_READ_TIMEOUT_S, connect=constants.INFLUX_CONNECT_TIMEOUT_S)
SCRIPTS_PATH = "/api/v2/scripts"


class ScriptsClient:
    """Calls ``/api/v2/scripts`` of one InfluxDB endpoint with one token. Use it as a context manager
    (or call :meth:`close`) to release the connection pool it created; a passed-in client stays open."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        client: httpx.Client | None = None,
    ) -> None:
        self._base, self._display = _check_base_url(base_url)
        if not token:
            raise ValueError("token: must not be empty")
        self._token = token
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else _timeout_of(float(timeout))
        self._owns_http = client is None
        self._http = client if client is not None else httpx.Client(timeout=self._timeout)
        self._invoke_urls: dict[str, httpx.URL] = {}  # parsed once per script, not once per invoke

    def __repr__(self) -> str:
        return f"ScriptsClient(base_url={self._display!r})"

    def __enter__(self) -> ScriptsClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool, unless it was passed in by the caller."""
        if self._owns_http:
            self._http.close()

    # --- the calls of the contract ----------------------------------------------------------------

    def ping(self) -> None:
        """``GET /ping``: raise unless the server answers with a success status."""
        self._request("GET", "/ping")

    def create(self, body: ScriptCreate) -> Script:
        """``POST /api/v2/scripts``: store a new script (``ConflictError`` if the name exists)."""
        response = self._request("POST", SCRIPTS_PATH, json=body.model_dump(mode="json"))
        return _script(_json(response), response.status_code)

    def list(
        self, *, offset: int = 0, limit: int = constants.INFLUX_LIST_LIMIT_DEFAULT, name: str | None = None
    ) -> builtins.list[Script]:
        """``GET /api/v2/scripts``: one page of the organization's scripts (``name`` matches exactly)."""
        if offset < 0:
            raise ValueError("offset: must be >= 0")
        if not 0 <= limit <= constants.INFLUX_LIST_LIMIT_MAX:
            raise ValueError(f"limit: must be between 0 and {constants.INFLUX_LIST_LIMIT_MAX}")
        query: dict[str, str | int] = {"offset": offset, "limit": limit}
        if name is not None:
            query["name"] = name
        response = self._request("GET", SCRIPTS_PATH, params=query)
        data = _json(response)
        items = data.get("scripts") if isinstance(data, dict) else None
        if not isinstance(items, builtins.list):
            raise ResponseFormatError("the script list response has no `scripts` array", status=200)
        return [_script(item, response.status_code) for item in items]

    def iter_all(
        self, *, name: str | None = None, page_size: int = constants.INFLUX_LIST_LIMIT_DEFAULT
    ) -> Iterator[Script]:
        """Every script, page after page until a short page. A page that brings no new id ends the
        walk too (a server that ignores ``offset`` cannot make it loop forever)."""
        if not 1 <= page_size <= constants.INFLUX_LIST_LIMIT_MAX:
            raise ValueError(f"page_size: must be between 1 and {constants.INFLUX_LIST_LIMIT_MAX}")
        seen: set[str] = set()
        offset = 0
        while True:
            page = self.list(offset=offset, limit=page_size, name=name)
            fresh = [script for script in page if script.id not in seen]
            for script in fresh:
                seen.add(script.id)
                yield script
            if len(page) < page_size or not fresh:
                return
            offset += len(page)

    def get(self, script_id: str) -> Script:
        """``GET /api/v2/scripts/{id}`` (``NotFoundError`` for an unknown id)."""
        response = self._request("GET", _script_path(script_id))
        return _script(_json(response), response.status_code)

    def update(self, script_id: str, body: ScriptUpdate) -> Script:
        """``PATCH /api/v2/scripts/{id}``: change the description and/or the script text."""
        response = self._request("PATCH", _script_path(script_id), json=body.to_json())
        return _script(_json(response), response.status_code)

    def delete(self, script_id: str) -> None:
        """``DELETE /api/v2/scripts/{id}`` (the server answers 204 for an unknown id too)."""
        self._request("DELETE", _script_path(script_id))

    def params(self, script_id: str) -> dict[str, str]:
        """``GET /api/v2/scripts/{id}/params``: parameter name -> type (``string``, ``int``, ...)."""
        data = _json(self._request("GET", _script_path(script_id) + "/params"))
        params = data.get("params") if isinstance(data, dict) else None
        if not isinstance(params, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in params.items()
        ):
            raise ResponseFormatError("the params response has no `params` name -> type object", status=200)
        return dict(params)

    @contextmanager
    def invoke(
        self,
        script_id: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | httpx.Timeout | None = None,
    ) -> Iterator[InvokeResult]:
        """``POST /api/v2/scripts/{id}/invoke`` with the CSV streamed, never held whole.

        HTTP errors raise before the first chunk. Iterating the result to its end raises
        ``ScriptRuntimeError`` for an error table and ``TruncatedBodyError`` for a cut-off body.
        ``timeout`` in seconds bounds each network wait and the whole call (stream included);
        an ``httpx.Timeout`` bounds only the network waits; ``None`` keeps the client's timeouts.
        """
        path = _script_path(script_id) + "/invoke"
        url = self._invoke_urls.get(script_id)
        if url is None:
            url = self._invoke_urls[script_id] = httpx.URL(self._base + path)
        deadline: float | None = None
        http_timeout = self._timeout
        if isinstance(timeout, httpx.Timeout):
            http_timeout = timeout
        elif timeout is not None:
            http_timeout = _timeout_of(float(timeout))
            deadline = time.monotonic() + float(timeout)
        body: dict[str, Any] = {"params": dict(params)} if params else {}
        headers = self._headers("application/csv")
        request = self._http.build_request("POST", url, json=body, headers=headers, timeout=http_timeout)
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self._display + path) from exc
        try:
            log.debug("POST %s -> %d (streaming)", path, response.status_code)
            if not response.is_success:
                raise error_from_response(response, _read_capped(response))
            yield InvokeResult(response, deadline=deadline)
        finally:
            response.close()

    # --- plumbing -----------------------------------------------------------------------------------

    def _headers(self, accept: str = "application/json") -> dict[str, str]:
        return {
            "Authorization": f"Token {self._token}",
            "Accept": accept,
            "User-Agent": f"scriptcron/{__version__}",
        }

    def _request(
        self, method: str, path: str, *, json: Any = None, params: Mapping[str, str | int] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                self._base + path,
                json=json,
                params=params,
                headers=self._headers(),
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            raise error_from_transport(exc, self._display + path) from exc
        log.debug("%s %s -> %d", method, path, response.status_code)
        if not response.is_success:
            raise error_from_response(response, response.content[: constants.INFLUX_ERROR_BODY_MAX_BYTES])
        return response


def _timeout_of(seconds: float) -> httpx.Timeout:
    if seconds <= 0:
        raise ValueError("timeout: must be > 0 seconds")
    return httpx.Timeout(seconds, connect=min(seconds, constants.INFLUX_CONNECT_TIMEOUT_S))


def _check_base_url(base_url: str) -> tuple[str, str]:
    """The base URL without a trailing slash, and a form safe to show (no user info, no query)."""
    try:
        url = httpx.URL(base_url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"base_url: not a valid URL: {exc}") from None
    if url.scheme not in {"http", "https"} or not url.host:
        raise ValueError(
            "base_url: must be an http:// or https:// URL with a host, e.g. http://localhost:8086"
        )
    port = f":{url.port}" if url.port else ""
    display = f"{url.scheme}://{url.host}{port}{url.path.rstrip('/')}"
    base = str(url.copy_with(query=None, fragment=None)).rstrip("/")
    return base, display


def _script_path(script_id: str) -> str:
    if not script_id:
        raise ValueError("script_id: must not be empty")
    return f"{SCRIPTS_PATH}/{quote(script_id, safe='')}"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ResponseFormatError(
            f"expected a JSON body, got {response.headers.get('Content-Type', 'no content type')}",
            status=response.status_code,
        ) from None


def _script(data: Any, status: int) -> Script:
    try:
        return Script.model_validate(data)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors())
        message = f"the server returned a malformed script ({fields})"
        raise ResponseFormatError(message, status=status) from None


def _read_capped(response: httpx.Response) -> bytes:
    """Up to INFLUX_ERROR_BODY_MAX_BYTES of an error response (a broken connection keeps what came)."""
    body = bytearray()
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= constants.INFLUX_ERROR_BODY_MAX_BYTES:
                break
    except httpx.HTTPError:
        pass
    return bytes(body[: constants.INFLUX_ERROR_BODY_MAX_BYTES])
