"""The emulator's HTTP surface (Starlette): /ping, the seven /api/v2/scripts calls, write, buckets, faults.

Errors follow the contract: JSON ``{"code", "message"}`` with ``Content-Type: application/json;
charset=utf-8`` and ``X-Platform-Error-Code``. Invoke streams CSV; an error found after rows were sent
becomes the ``,error,reference`` tail (see :mod:`app.emulator.query`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from app.constants import INFLUX_LIST_LIMIT_DEFAULT, INFLUX_LIST_LIMIT_MAX
from app.emulator import generated
from app.emulator.errors import (
    EmulatorError,
    InternalError,
    InvalidError,
    NotFoundError,
    RetryableEmulatorError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
)
from app.emulator.faults import FAULTS_HEADER, Faults, FaultState, parse_header, parse_overrides
from app.emulator.lineprotocol import parse_lines
from app.emulator.storage import DataStore, Org
from app.emulator.store import LANGUAGES, ScriptStore

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


@dataclass
class EmulatorState:
    """Everything a running emulator holds: tokens -> orgs, scripts, data, faults."""

    tokens: dict[str, Org]
    scripts: ScriptStore
    data: DataStore = field(default_factory=DataStore)
    faults: FaultState = field(default_factory=FaultState)

    def org_by_ref(self, name: str | None = None, org_id: str | None = None) -> Org | None:
        for org in self.tokens.values():
            if (name is not None and org.name == name) or (org_id is not None and org.id == org_id):
                return org
        return None


def error_response(exc: EmulatorError) -> Response:
    headers = {"X-Platform-Error-Code": exc.code}
    if isinstance(exc, RetryableEmulatorError) and exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    body = json.dumps({"code": exc.code, "message": exc.message})
    return Response(body, status_code=exc.status, headers=headers, media_type=JSON_CONTENT_TYPE)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status_code=status, media_type=JSON_CONTENT_TYPE)


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def _authorize(request: Request) -> Org:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in {"token", "bearer"} and token.strip():
        org = _state(request).tokens.get(token.strip())
        if org is not None:
            return org
    raise UnauthorizedError("unauthorized access")


def _request_faults(request: Request) -> Faults:
    faults = _state(request).faults.faults
    header = request.headers.get(FAULTS_HEADER)
    return faults.merged(parse_header(header)) if header else faults


async def _apply_status_faults(request: Request, faults: Faults) -> None:
    state = _state(request).faults
    delay = state.latency_s(faults)
    if delay > 0:
        await asyncio.sleep(delay)
    status = state.status_fault(faults)
    if status == 429:
        raise TooManyRequestsError("org has exceeded limits (injected fault)", faults.retry_after_s)
    if status == 500:
        raise InternalError("internal error (injected fault)")
    if status == 503:
        raise UnavailableError("service unavailable (injected fault)")


Handler = Callable[[Request], Awaitable[Response]]


def api(*, invoke: bool = False, auth: bool = True) -> Callable[[Handler], Handler]:
    """Wrap a handler: per-request faults, auth, and EmulatorError -> contract error body."""

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            try:
                faults = _request_faults(request)
                if invoke or faults.scope == "all":
                    await _apply_status_faults(request, faults)
                if auth:
                    request.state.org = _authorize(request)
                request.state.faults = faults
                return await handler(request)
            except EmulatorError as exc:
                return error_response(exc)

        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


async def _json_body(request: Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return {}
        raise InvalidError("request body is required")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidError("request body must be a JSON object")
    return data


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


async def ping(request: Request) -> Response:
    return Response(status_code=204, headers={"X-Influxdb-Build": "Cloud", "X-Influxdb-Version": "emulator"})


async def health(request: Request) -> Response:
    return json_response({"name": "scriptcron-emulator", "status": "pass", "message": "ready for queries"})


@api()
async def create_script(request: Request) -> Response:
    body = await _json_body(request)
    for name in ("name", "description", "script", "language"):
        if name not in body or body[name] is None:
            raise InvalidError(f"{name} is required")
        if not isinstance(body[name], str):
            raise InvalidError(f"{name} must be a string")
    if not body["name"].strip():
        raise InvalidError("name is required")
    if not body["script"].strip():
        raise InvalidError("script is required")
    if body["language"] not in LANGUAGES:
        raise InvalidError(f"language must be one of {', '.join(LANGUAGES)}")
    org: Org = request.state.org
    item = _state(request).scripts.create(
        org.id, body["name"], body["description"], body["script"], body["language"]
    )
    return json_response(item.to_json(_base_url(request)), 201)


def _int_query(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidError(f"{name} must be an integer") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InvalidError(f"{name} must be {bound}")
    return value


@api()
async def list_scripts(request: Request) -> Response:
    limit = _int_query(request, "limit", INFLUX_LIST_LIMIT_DEFAULT, 0, INFLUX_LIST_LIMIT_MAX)
    offset = _int_query(request, "offset", 0, 0, None)
    org: Org = request.state.org
    items = _state(request).scripts.list(
        org.id, offset=offset, limit=limit, name=request.query_params.get("name")
    )
    base = _base_url(request)
    return json_response({"scripts": [item.to_json(base) for item in items]})


@api()
async def get_script(request: Request) -> Response:
    org: Org = request.state.org
    item = _state(request).scripts.get(org.id, request.path_params["script_id"])
    return json_response(item.to_json(_base_url(request)))


@api()
async def update_script(request: Request) -> Response:
    body = await _json_body(request, allow_empty=True)
    changes: dict[str, str | None] = {"description": None, "script": None}
    for name in changes:
        if body.get(name) is not None:
            if not isinstance(body[name], str):
                raise InvalidError(f"{name} must be a string")
            changes[name] = body[name]
    if changes["script"] is not None and not changes["script"].strip():
        raise InvalidError("script must not be empty")
    org: Org = request.state.org
    item = _state(request).scripts.update(org.id, request.path_params["script_id"], **changes)
    return json_response(item.to_json(_base_url(request)))


@api()
async def delete_script(request: Request) -> Response:
    org: Org = request.state.org
    _state(request).scripts.delete(org.id, request.path_params["script_id"])
    return Response(status_code=204)


@api()
async def script_params(request: Request) -> Response:
    from app.emulator.query import infer_params

    org: Org = request.state.org
    item = _state(request).scripts.get(org.id, request.path_params["script_id"])
    return json_response({"params": infer_params(item.script) if item.language == "flux" else {}})


def _drop_after(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    """Send ``limit`` bytes, then break the connection (the server aborts the chunked body)."""
    sent = 0
    for chunk in chunks:
        if sent + len(chunk) >= limit:
            yield chunk[: limit - sent]
            break
        sent += len(chunk)
        yield chunk
    raise ConnectionAbortedError(f"connection dropped after {limit} bytes (injected fault)")


@api(invoke=True)
async def invoke_script(request: Request) -> Response:
    state = _state(request)
    org: Org = request.state.org
    faults: Faults = request.state.faults
    item = state.scripts.get(org.id, request.path_params["script_id"])
    body = await _json_body(request, allow_empty=True)
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise InvalidError("params must be a JSON object")
    if faults.fast and faults.drop_after_bytes is None and faults.error_after_rows is None:
        return Response(generated.FAST_CSV, media_type=CSV_CONTENT_TYPE)
    chunks: Iterator[bytes]
    if faults.fast:
        chunks = generated.fast_chunks(faults.error_after_rows)
    elif faults.generate_bytes is not None:
        chunks = generated.generated_chunks(faults.generate_bytes)
    else:
        if item.language != "flux":
            raise InvalidError(f"language {item.language!r} is not supported by the emulator; use flux")
        from app.emulator.query import prepare_invoke

        chunks = await run_in_threadpool(
            prepare_invoke,
            item.script,
            params,
            data=state.data,
            org_id=org.id,
            now_ns=time.time_ns(),
            error_after_rows=faults.error_after_rows,
        )
    if faults.drop_after_bytes is not None:
        chunks = _drop_after(chunks, faults.drop_after_bytes)
    return StreamingResponse(chunks, media_type=CSV_CONTENT_TYPE)


def _org_from_query(request: Request) -> Org:
    org: Org = request.state.org
    name = request.query_params.get("org")
    org_id = request.query_params.get("orgID")
    if (name and name != org.name) or (org_id and org_id != org.id):
        raise NotFoundError(f'organization name "{name or org_id}" not found')
    return org


@api()
async def write(request: Request) -> Response:
    org = _org_from_query(request)
    state = _state(request)
    bucket_name = request.query_params.get("bucket")
    if not bucket_name:
        raise InvalidError("bucket is required")
    try:
        bucket = state.data.get_bucket(org.id, bucket_name)
    except NotFoundError:
        try:
            bucket = state.data.get_bucket_by_id(org.id, bucket_name)
        except NotFoundError:
            raise NotFoundError(f'bucket "{bucket_name}" not found') from None
    precision = request.query_params.get("precision", "ns") or "ns"
    raw = await request.body()
    if request.headers.get("content-encoding", "").lower() == "gzip":
        import gzip

        raw = gzip.decompress(raw)
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise InvalidError("write body is not valid UTF-8") from None

    def parse_and_store() -> None:
        points = parse_lines(text, precision)
        bucket.write_points(points, time.time_ns())

    await run_in_threadpool(parse_and_store)
    return Response(status_code=204)


def _bucket_json(request: Request, bucket: Any) -> dict[str, Any]:
    return {
        "id": bucket.id,
        "orgID": bucket.org_id,
        "name": bucket.name,
        "type": "user",
        "retentionRules": [],
        "links": {"self": f"/api/v2/buckets/{bucket.id}"},
    }


@api()
async def list_buckets(request: Request) -> Response:
    org = _org_from_query(request)
    buckets = _state(request).data.list_buckets(org.id)
    name = request.query_params.get("name")
    if name:
        buckets = [b for b in buckets if b.name == name]
    return json_response({"buckets": [_bucket_json(request, b) for b in buckets]})


@api()
async def create_bucket(request: Request) -> Response:
    body = await _json_body(request)
    org: Org = request.state.org
    org_id = body.get("orgID")
    if org_id is not None and org_id != org.id:
        raise NotFoundError(f'organization "{org_id}" not found')
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidError("name is required")
    bucket = _state(request).data.create_bucket(org.id, name)
    return json_response(_bucket_json(request, bucket), 201)


async def faults_endpoint(request: Request) -> Response:
    state = _state(request)
    try:
        if request.method == "POST":
            body = await _json_body(request, allow_empty=True)
            state.faults.set(Faults().merged(parse_overrides(body)))
    except EmulatorError as exc:
        return error_response(exc)
    return json_response(state.faults.faults.to_json())


async def not_found(request: Request, exc: Exception) -> Response:
    if isinstance(exc, HTTPException) and exc.status_code == 405:
        body = json.dumps({"code": "method not allowed", "message": "method not allowed"})
        return Response(body, 405, {"X-Platform-Error-Code": "method not allowed"}, JSON_CONTENT_TYPE)
    return error_response(NotFoundError("path not found"))


def create_app(state: EmulatorState) -> Starlette:
    routes = [
        Route("/ping", ping, methods=["GET", "HEAD"]),
        Route("/health", health, methods=["GET"]),
        Route("/api/v2/scripts", list_scripts, methods=["GET"]),
        Route("/api/v2/scripts", create_script, methods=["POST"]),
        Route("/api/v2/scripts/{script_id}", get_script, methods=["GET"]),
        Route("/api/v2/scripts/{script_id}", update_script, methods=["PATCH"]),
        Route("/api/v2/scripts/{script_id}", delete_script, methods=["DELETE"]),
        Route("/api/v2/scripts/{script_id}/invoke", invoke_script, methods=["POST"]),
        Route("/api/v2/scripts/{script_id}/params", script_params, methods=["GET"]),
        Route("/api/v2/write", write, methods=["POST"]),
        Route("/api/v2/buckets", list_buckets, methods=["GET"]),
        Route("/api/v2/buckets", create_bucket, methods=["POST"]),
        Route("/emulator/faults", faults_endpoint, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.emulator = state
    return app
