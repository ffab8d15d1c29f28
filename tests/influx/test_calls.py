"""The seven calls of the contract (and ping): what they send and what they return."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from app.influx import Script, ScriptCreate, ScriptLanguage, ScriptsClient, ScriptUpdate
from app.influx.errors import ResponseFormatError
from tests.influx.fakes import BASE_URL, SCRIPT_ID, TOKEN, client_for, script_json


def test_create_posts_all_four_fields_and_returns_the_script() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=script_json())

    with client_for(handler) as client:
        script = client.create(ScriptCreate(name="getLastPoint", script="from(bucket: params.b)"))

    assert seen[0].method == "POST"
    assert str(seen[0].url) == f"{BASE_URL}/api/v2/scripts"
    assert json.loads(seen[0].content) == {
        "name": "getLastPoint",
        "description": "",
        "script": "from(bucket: params.b)",
        "language": "flux",
    }
    assert script.id == SCRIPT_ID
    assert script.org_id == "bea7ea952287f70d"
    assert script.language is ScriptLanguage.FLUX
    assert script.created_at == datetime(2021, 10, 15, 20, 32, 4, 172938, tzinfo=UTC)


def test_every_request_carries_the_token_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=script_json())

    with client_for(handler) as client:
        client.get(SCRIPT_ID)

    assert seen[0].headers["Authorization"] == f"Token {TOKEN}"


def test_list_sends_offset_limit_and_name() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"scripts": [script_json()]})

    with client_for(handler) as client:
        scripts = client.list(offset=5, limit=10, name="getLastPoint")

    assert seen[0].url.path == "/api/v2/scripts"
    assert dict(seen[0].url.params) == {"offset": "5", "limit": "10", "name": "getLastPoint"}
    assert [s.name for s in scripts] == ["getLastPoint"]


def test_list_rejects_a_limit_above_the_contract_maximum_without_a_request() -> None:
    client = client_for(lambda request: pytest.fail("no request expected"))
    with pytest.raises(ValueError, match="limit"):
        client.list(limit=501)
    with pytest.raises(ValueError, match="offset"):
        client.list(offset=-1)


def test_iter_all_pages_until_a_short_page() -> None:
    total = 7
    offsets: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        offsets.append(offset)
        ids = range(offset, min(offset + limit, total))
        return httpx.Response(200, json={"scripts": [script_json(f"{i:016x}", f"s{i}") for i in ids]})

    with client_for(handler) as client:
        names = [s.name for s in client.iter_all(page_size=3)]

    assert names == [f"s{i}" for i in range(total)]
    assert offsets == [0, 3, 6]


def test_iter_all_asks_for_one_more_page_after_an_exactly_full_one() -> None:
    offsets: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        offsets.append(offset)
        ids = range(offset, min(offset + 2, 4))
        return httpx.Response(200, json={"scripts": [script_json(f"{i:016x}", f"s{i}") for i in ids]})

    with client_for(handler) as client:
        assert len(list(client.iter_all(page_size=2))) == 4
    assert offsets == [0, 2, 4]


def test_iter_all_stops_when_the_server_ignores_offset() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"scripts": [script_json("a" * 16, "a"), script_json("b" * 16, "b")]})

    with client_for(handler) as client:
        assert [s.name for s in client.iter_all(page_size=2)] == ["a", "b"]


def test_get_returns_the_script() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "GET"
        assert request.url.path == f"/api/v2/scripts/{SCRIPT_ID}"
        return httpx.Response(200, json=script_json())

    with client_for(handler) as client:
        assert client.get(SCRIPT_ID) == Script.model_validate(script_json())


def test_script_id_is_escaped_in_the_path() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.raw_path == b"/api/v2/scripts/..%2Fx%3Fy"
        return httpx.Response(204)

    with client_for(handler) as client:
        client.delete("../x?y")


def test_update_sends_only_the_fields_given() -> None:
    bodies: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.method == "PATCH"
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=script_json(description="new", updatedAt="2021-10-16T00:00:00Z"))

    with client_for(handler) as client:
        script = client.update(SCRIPT_ID, ScriptUpdate(description="new"))
        client.update(SCRIPT_ID, ScriptUpdate(script='from(bucket: "b")'))

    assert bodies == [{"description": "new"}, {"script": 'from(bucket: "b")'}]
    assert script.description == "new"
    assert script.updated_at == datetime(2021, 10, 16, tzinfo=UTC)


def test_delete_accepts_204() -> None:
    methods: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        return httpx.Response(204)

    with client_for(handler) as client:
        client.delete(SCRIPT_ID)
    assert methods == ["DELETE"]


def test_params_returns_names_and_types() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v2/scripts/{SCRIPT_ID}/params"
        return httpx.Response(200, json={"params": {"mybucket": "string", "n": "int"}})

    with client_for(handler) as client:
        assert client.params(SCRIPT_ID) == {"mybucket": "string", "n": "int"}


def test_ping_calls_the_root_ping_endpoint() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(204, headers={"X-Influxdb-Build": "Cloud"})

    with client_for(handler) as client:
        client.ping()
    assert paths == ["/ping"]


def test_base_url_with_a_path_prefix_and_trailing_slash_is_kept() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        return httpx.Response(200, json=script_json())

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with ScriptsClient(BASE_URL + "/influx/", TOKEN, client=http) as client:
        client.get(SCRIPT_ID)
    assert paths == [f"/influx/api/v2/scripts/{SCRIPT_ID}"]


@pytest.mark.parametrize("base_url", ["localhost:8086", "ftp://host", "http://", ""])
def test_a_base_url_without_http_scheme_and_host_is_rejected(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        ScriptsClient(base_url, TOKEN)


def test_an_empty_token_is_rejected() -> None:
    with pytest.raises(ValueError, match="token"):
        ScriptsClient(BASE_URL, "")


def test_a_script_missing_org_id_is_a_response_format_error() -> None:
    body = script_json()
    del body["orgID"]
    client = client_for(lambda request: httpx.Response(200, json=body))
    with pytest.raises(ResponseFormatError, match="orgID"):
        client.get(SCRIPT_ID)


def test_a_non_json_success_body_is_a_response_format_error() -> None:
    client = client_for(lambda request: httpx.Response(200, text="<html>proxy</html>"))
    with pytest.raises(ResponseFormatError):
        client.list()


def test_a_passed_in_http_client_is_left_open() -> None:
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    with ScriptsClient(BASE_URL, TOKEN, client=http) as client:
        client.ping()
    assert not http.is_closed
    http.close()


def test_script_accepts_snake_case_names_too() -> None:
    script = Script(id="1", org_id="o", name="n", script="s")
    assert script.to_json()["orgID"] == "o"
