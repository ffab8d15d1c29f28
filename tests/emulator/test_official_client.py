"""The official influxdb-client package against the emulator on a real port (the contract's client)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from influxdb_client import InfluxDBClient
from influxdb_client.domain.script_create_request import ScriptCreateRequest
from influxdb_client.domain.script_language import ScriptLanguage
from influxdb_client.domain.script_update_request import ScriptUpdateRequest
from influxdb_client.rest import ApiException

from tests.support.emulator import EmulatorServer

pytestmark = pytest.mark.integration
LAST_POINT = (
    "from(bucket: params.mybucket)"
    " |> range(start: 2023-11-14T00:00:00Z, stop: 2023-11-15T00:00:00Z) |> limit(n: 1)"
)
LINES = "\n".join(
    [
        "airSensors,sensor_id=TLM0100 temperature=71.2,humidity=35.1 1700000000000000000",
        "airSensors,sensor_id=TLM0100 temperature=71.9,humidity=35.4 1700000060000000000",
        "airSensors,sensor_id=TLM0101 temperature=70.5,humidity=36.0 1700000000000000000",
    ]
)


@pytest.fixture(scope="module")
def client(emu: EmulatorServer) -> Iterator[InfluxDBClient]:
    emu.write("official", LINES, token="tok-a")
    with InfluxDBClient(url=emu.url, token="tok-a", org="org-a") as value:
        yield value


def create(client: InfluxDBClient, script: str = LAST_POINT) -> str:
    api = client.invokable_scripts_api()
    created = api.create_script(
        ScriptCreateRequest(
            name=f"official-{uuid.uuid4().hex[:8]}",
            description="last point",
            script=script,
            language=ScriptLanguage.FLUX,
        )
    )
    return str(created.id)


def test_create_find_update_delete(client: InfluxDBClient) -> None:
    api = client.invokable_scripts_api()
    created = api.create_script(
        ScriptCreateRequest(
            name="official-crud", description="d", script=LAST_POINT, language=ScriptLanguage.FLUX
        )
    )
    assert (created.name, created.language, created.script) == ("official-crud", "flux", LAST_POINT)
    assert created.org_id
    assert created.created_at is not None
    assert "official-crud" in [s.name for s in api.find_scripts()]
    updated = api.update_script(created.id, ScriptUpdateRequest(description="new", script=LAST_POINT + " "))
    assert (updated.description, updated.script) == ("new", LAST_POINT + " ")
    assert updated.updated_at > created.updated_at
    api.delete_script(created.id)
    assert "official-crud" not in [s.name for s in api.find_scripts()]


def test_find_scripts_with_limit_and_offset(client: InfluxDBClient) -> None:
    api = client.invokable_scripts_api()
    for _ in range(3):
        create(client)
    everything = api.find_scripts()
    assert [s.id for s in api.find_scripts(limit=2, offset=1)] == [s.id for s in everything[1:3]]


def test_invoke_script_returns_flux_tables(client: InfluxDBClient) -> None:
    script_id = create(client)
    tables = client.invokable_scripts_api().invoke_script(script_id, params={"mybucket": "official"})
    values = [(t.records[0]["sensor_id"], t.records[0]["_field"], t.records[0]["_value"]) for t in tables]
    # plain CSV has no type annotations: the client yields the cells as strings
    assert values == [
        ("TLM0100", "humidity", "35.1"),
        ("TLM0100", "temperature", "71.2"),
        ("TLM0101", "humidity", "36"),
        ("TLM0101", "temperature", "70.5"),
    ]


def test_invoke_script_csv_returns_the_rows(client: InfluxDBClient) -> None:
    script_id = create(client)
    rows = list(client.invokable_scripts_api().invoke_script_csv(script_id, params={"mybucket": "official"}))
    assert rows[0] == [
        "",
        "result",
        "table",
        "_start",
        "_stop",
        "_time",
        "_value",
        "_field",
        "_measurement",
        "sensor_id",
    ]
    assert rows[1][1:3] == ["_result", "0"]
    assert len([r for r in rows if r and r[1] == "_result"]) == 4


def test_invoke_without_params_raises_the_400(client: InfluxDBClient) -> None:
    script_id = create(client)
    with pytest.raises(ApiException) as info:
        client.invokable_scripts_api().invoke_script(script_id, params={})
    assert info.value.status == 400
    assert b"invalid parameters provided" in info.value.body


def test_unknown_script_raises_404(client: InfluxDBClient) -> None:
    with pytest.raises(ApiException) as info:
        client.invokable_scripts_api().invoke_script("0000000000000000", params={})
    assert info.value.status == 404


def test_bad_token_raises_401(emu: EmulatorServer) -> None:
    with InfluxDBClient(url=emu.url, token="wrong", org="org-a") as bad, pytest.raises(ApiException) as info:
        bad.invokable_scripts_api().find_scripts()
    assert info.value.status == 401


def test_official_write_api_writes_points_the_engine_reads(
    client: InfluxDBClient, emu: EmulatorServer
) -> None:
    from influxdb_client.client.write_api import SYNCHRONOUS

    emu.create_bucket("official-write", token="tok-a")
    client.write_api(write_options=SYNCHRONOUS).write(
        bucket="official-write", org="org-a", record="m,t=x v=3i 1700000000000000000"
    )
    script_id = create(
        client,
        'from(bucket: "official-write") |> range(start: 2023-11-14T00:00:00Z, stop: 2023-11-15T00:00:00Z)',
    )
    rows = list(client.invokable_scripts_api().invoke_script_csv(script_id))
    assert rows[1][6:] == ["3", "v", "m", "x"]
