"""The seven /api/v2/scripts calls, /ping, auth and every documented error, on a real port."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from tests.support.emulator import EmulatorServer

pytestmark = pytest.mark.integration
RFC3339_MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def body(name: str | None = None, **overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": name or f"s-{uuid.uuid4().hex[:8]}",
        "description": "d",
        "script": 'from(bucket: "default") |> range(start: -1h)',
        "language": "flux",
    }
    data.update(overrides)
    return data


def assert_error(response: httpx.Response, status: int, code: str, message: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["x-platform-error-code"] == code
    assert response.json() == {"code": code, "message": message}


def test_ping_answers_204_with_the_cloud_build_header(emu: EmulatorServer) -> None:
    for method in ("GET", "HEAD"):
        response = httpx.request(method, f"{emu.url}/ping")
        assert response.status_code == 204
        assert response.headers["x-influxdb-build"] == "Cloud"


def test_create_returns_201_and_the_script(emu: EmulatorServer) -> None:
    with emu.http() as client:
        response = client.post("/api/v2/scripts", json=body("created", orgID="ignored"))
    assert response.status_code == 201
    script = response.json()
    assert re.fullmatch(r"[0-9a-f]{16}", script["id"])
    assert re.fullmatch(r"[0-9a-f]{16}", script["orgID"])
    assert RFC3339_MICRO.match(script["createdAt"])
    assert script["createdAt"] == script["updatedAt"]
    assert {k: script[k] for k in ("name", "description", "language")} == {
        "name": "created",
        "description": "d",
        "language": "flux",
    }
    assert script["url"].endswith(f"/api/v2/scripts/{script['id']}")


@pytest.mark.parametrize("field", ["name", "description", "script", "language"])
def test_create_without_a_field_is_400_naming_it(emu: EmulatorServer, field: str) -> None:
    data = body()
    del data[field]
    with emu.http() as client:
        assert_error(client.post("/api/v2/scripts", json=data), 400, "invalid", f"{field} is required")


def test_create_with_unknown_language_is_400(emu: EmulatorServer) -> None:
    with emu.http() as client:
        response = client.post("/api/v2/scripts", json=body(language="python"))
    assert_error(response, 400, "invalid", "language must be one of flux, sql, influxql")


def test_create_with_a_non_json_body_is_400(emu: EmulatorServer) -> None:
    with emu.http() as client:
        response = client.post("/api/v2/scripts", content=b"{nope")
    assert_error(response, 400, "invalid", "request body is not valid JSON")


def test_duplicate_name_in_the_org_is_422_conflict(emu: EmulatorServer) -> None:
    with emu.http() as client:
        assert client.post("/api/v2/scripts", json=body("dup")).status_code == 201
        assert_error(
            client.post("/api/v2/scripts", json=body("dup")), 422, "conflict", "uniqueness violation"
        )
    with emu.http("tok-b") as other:
        assert other.post("/api/v2/scripts", json=body("dup")).status_code == 201


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=501", "limit must be between 0 and 500"),
        ("limit=-1", "limit must be between 0 and 500"),
        ("limit=x", "limit must be an integer"),
        ("offset=-1", "offset must be >= 0"),
    ],
)
def test_list_with_bad_limit_or_offset_is_400(emu: EmulatorServer, query: str, message: str) -> None:
    with emu.http() as client:
        assert_error(client.get(f"/api/v2/scripts?{query}"), 400, "invalid", message)


def test_list_pages_with_limit_and_offset_and_filters_by_name(emu: EmulatorServer) -> None:
    prefix = uuid.uuid4().hex[:6]
    with emu.http("tok-b") as client:
        for index in range(3):
            client.post("/api/v2/scripts", json=body(f"{prefix}-{index}"))
        names = [s["name"] for s in client.get("/api/v2/scripts").json()["scripts"]]
        page = client.get("/api/v2/scripts", params={"limit": 1, "offset": 1}).json()["scripts"]
        by_name = client.get("/api/v2/scripts", params={"name": f"{prefix}-2"}).json()["scripts"]
        assert client.get("/api/v2/scripts", params={"limit": 0}).json() == {"scripts": []}
    assert [f"{prefix}-{i}" for i in range(3)] == [n for n in names if n.startswith(prefix)]
    assert [s["name"] for s in page] == [names[1]]
    assert [s["name"] for s in by_name] == [f"{prefix}-2"]


def test_scripts_of_one_org_are_invisible_to_another(emu: EmulatorServer) -> None:
    script_id = emu.create_script(f"private-{uuid.uuid4().hex[:6]}", "x", token="tok-a")
    with emu.http("tok-b") as other:
        assert_error(
            other.get(f"/api/v2/scripts/{script_id}"), 404, "not found", f'script "{script_id}" not found'
        )
        assert script_id not in [s["id"] for s in other.get("/api/v2/scripts").json()["scripts"]]
        assert other.patch(f"/api/v2/scripts/{script_id}", json={"description": "x"}).status_code == 404
        assert other.post(f"/api/v2/scripts/{script_id}/invoke", json={}).status_code == 404
        assert other.delete(f"/api/v2/scripts/{script_id}").status_code == 204
    with emu.http("tok-a") as owner:
        assert owner.get(f"/api/v2/scripts/{script_id}").status_code == 200


def test_get_unknown_script_is_404(emu: EmulatorServer) -> None:
    with emu.http() as client:
        response = client.get("/api/v2/scripts/0000000000000000")
    assert_error(response, 404, "not found", 'script "0000000000000000" not found')


def test_patch_changes_only_description_and_script_with_a_new_updated_at(emu: EmulatorServer) -> None:
    with emu.http() as client:
        created = client.post("/api/v2/scripts", json=body("patched")).json()
        response = client.patch(
            f"/api/v2/scripts/{created['id']}",
            json={"description": "new", "script": "y", "name": "renamed", "language": "sql"},
        )
        unchanged = client.patch(f"/api/v2/scripts/{created['id']}", json={})
    assert response.status_code == 200
    patched = response.json()
    assert (patched["description"], patched["script"]) == ("new", "y")
    assert (patched["name"], patched["language"], patched["createdAt"]) == (
        "patched",
        "flux",
        created["createdAt"],
    )
    assert patched["updatedAt"] > created["updatedAt"]
    assert unchanged.status_code == 200
    assert unchanged.json()["script"] == "y"


def test_patch_unknown_script_is_404(emu: EmulatorServer) -> None:
    with emu.http() as client:
        response = client.patch("/api/v2/scripts/ffffffffffffffff", json={"description": "x"})
    assert_error(response, 404, "not found", 'script "ffffffffffffffff" not found')


def test_delete_is_204_also_for_an_unknown_id(emu: EmulatorServer) -> None:
    script_id = emu.create_script(f"gone-{uuid.uuid4().hex[:6]}", "x")
    with emu.http() as client:
        assert client.delete(f"/api/v2/scripts/{script_id}").status_code == 204
        assert client.get(f"/api/v2/scripts/{script_id}").status_code == 404
        assert client.delete(f"/api/v2/scripts/{script_id}").status_code == 204


def test_params_reports_each_param_with_its_inferred_type(emu: EmulatorServer) -> None:
    script = (
        "from(bucket: params.bucket) |> range(start: duration(v: params.start))"
        " |> filter(fn: (r) => r._value > params.min * 1.0) |> limit(n: params.n)"
    )
    script_id = emu.create_script(f"params-{uuid.uuid4().hex[:6]}", script)
    with emu.http() as client:
        response = client.get(f"/api/v2/scripts/{script_id}/params")
        missing = client.get("/api/v2/scripts/0000000000000001/params")
    assert response.status_code == 200
    assert response.json() == {"params": {"bucket": "string", "start": "any", "min": "float", "n": "int"}}
    assert_error(missing, 404, "not found", 'script "0000000000000001" not found')


@pytest.mark.parametrize(
    "authorization", [None, "", "Token", "Token wrong", "Basic dG9rLWE6", "tok-a", "Bearer"]
)
def test_bad_or_missing_auth_is_401_on_every_call(emu: EmulatorServer, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization is not None else {}
    calls = [
        ("GET", "/api/v2/scripts"),
        ("POST", "/api/v2/scripts"),
        ("GET", "/api/v2/scripts/0000000000000000"),
        ("PATCH", "/api/v2/scripts/0000000000000000"),
        ("DELETE", "/api/v2/scripts/0000000000000000"),
        ("POST", "/api/v2/scripts/0000000000000000/invoke"),
        ("GET", "/api/v2/scripts/0000000000000000/params"),
    ]
    for method, path in calls:
        response = httpx.request(method, f"{emu.url}{path}", headers=headers, json={})
        assert_error(response, 401, "unauthorized", "unauthorized access")


def test_token_and_bearer_forms_are_accepted(emu: EmulatorServer) -> None:
    for scheme in ("Token", "Bearer", "token"):
        response = httpx.get(f"{emu.url}/api/v2/scripts", headers={"Authorization": f"{scheme} tok-a"})
        assert response.status_code == 200


def test_invoke_missing_params_is_400_invalid_parameters_provided(emu: EmulatorServer) -> None:
    script_id = emu.create_script(
        f"needs-{uuid.uuid4().hex[:6]}", "from(bucket: params.b) |> range(start: -1h)"
    )
    for payload in ({}, {"params": {}}, {"params": {"other": 1}}):
        with emu.http() as client:
            response = client.post(f"/api/v2/scripts/{script_id}/invoke", json=payload)
        assert_error(response, 400, "invalid", "invalid parameters provided")
    with emu.http() as client:
        empty_body = client.post(f"/api/v2/scripts/{script_id}/invoke", content=b"")
    assert_error(empty_body, 400, "invalid", "invalid parameters provided")


def test_invoke_unknown_script_or_bucket_is_404(emu: EmulatorServer) -> None:
    script_id = emu.create_script(
        f"nobucket-{uuid.uuid4().hex[:6]}", 'from(bucket: "nope") |> range(start: -1h)'
    )
    with emu.http() as client:
        unknown = client.post("/api/v2/scripts/00000000000000aa/invoke", json={})
        no_bucket = client.post(f"/api/v2/scripts/{script_id}/invoke", json={})
    assert_error(unknown, 404, "not found", 'script "00000000000000aa" not found')
    assert_error(
        no_bucket, 404, "not found", 'failed to initialize execute state: could not find bucket "nope"'
    )


def test_invoke_unsupported_construct_is_400_naming_it(emu: EmulatorServer) -> None:
    script_id = emu.create_script(
        f"unsupported-{uuid.uuid4().hex[:6]}",
        'from(bucket: "default") |> range(start: -1h) |> holtWinters(n: 2)',
    )
    response = emu.invoke(script_id)
    assert response.status_code == 400
    assert "holtWinters" in response.json()["message"]


def test_invoke_returns_plain_csv_whatever_the_accept_header(emu: EmulatorServer) -> None:
    emu.write("inv", "m,t=a v=1.5 1700000000000000000\nm,t=a v=2 1700000001000000000")
    script_id = emu.create_script(
        f"csv-{uuid.uuid4().hex[:6]}",
        'from(bucket: "inv") |> range(start: 2023-11-14T00:00:00Z, stop: 2023-11-15T00:00:00Z)',
    )
    response = emu.invoke(script_id, headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == (
        ",result,table,_start,_stop,_time,_value,_field,_measurement,t\r\n"
        ",_result,0,2023-11-14T00:00:00Z,2023-11-15T00:00:00Z,2023-11-14T22:13:20Z,1.5,v,m,a\r\n"
        ",_result,0,2023-11-14T00:00:00Z,2023-11-15T00:00:00Z,2023-11-14T22:13:21Z,2,v,m,a\r\n"
        "\r\n"
    )


def test_unknown_path_is_404_json(emu: EmulatorServer) -> None:
    assert_error(httpx.get(f"{emu.url}/api/v2/nothing"), 404, "not found", "path not found")
