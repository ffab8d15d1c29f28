"""The seed guide's two examples, data written over HTTP, buckets, sample data and persistence."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.emulator.conftest import start_emulator
from tests.emulator.flux_helpers import records
from tests.support.emulator import EmulatorServer

pytestmark = pytest.mark.integration
NS = 10**9


def test_get_last_point_with_params_mybucket(emu: EmulatorServer) -> None:
    now_s = int(time.time())
    emu.write(
        "seed",
        "\n".join(
            [
                f"airSensors,sensor_id=TLM0100 temperature=71.5 {now_s - 3 * 86400}",
                f"airSensors,sensor_id=TLM0100 temperature=72.5 {now_s - 86400}",
                f"airSensors,sensor_id=TLM0100 temperature=60.0 {now_s - 9 * 86400}",  # outside -7d
            ]
        ),
        precision="s",
    )
    script_id = emu.create_script(
        f"getLastPoint-{uuid.uuid4().hex[:6]}",
        "from(bucket:params.mybucket)      |> range(start: -7d)      |> limit(n:1)",
    )
    response = emu.invoke(script_id, {"mybucket": "seed"})
    assert response.status_code == 200
    (row,) = records(response.text)
    assert (row["_value"], row["_field"], row["sensor_id"]) == ("71.5", "temperature", "TLM0100")
    assert row["_time"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s - 3 * 86400))


def test_range_start_from_params_myrangestart(emu: EmulatorServer) -> None:
    emu.write("seed2", "\n".join(f"m,s=a v={i}i {1700000000 + i * 3600}" for i in range(5)), precision="s")
    script = (
        "from(bucket: params.mybucket)"
        " |> range(start: time(v: params.myrangestart), stop: 2023-11-15T12:00:00Z)"
        ' |> filter(fn: (r) => r._measurement == "m")'
    )
    script_id = emu.create_script(f"rangestart-{uuid.uuid4().hex[:6]}", script)
    response = emu.invoke(script_id, {"mybucket": "seed2", "myrangestart": "2023-11-15T00:00:00Z"})
    assert [r["_value"] for r in records(response.text)] == ["2", "3", "4"]
    assert {r["_start"] for r in records(response.text)} == {"2023-11-15T00:00:00Z"}

    relative = emu.create_script(
        f"rangestart-rel-{uuid.uuid4().hex[:6]}",
        "from(bucket: params.mybucket) |> range(start: duration(v: params.myrangestart))",
    )
    emu.write("seed2", f"m,s=a v=99i {int(time.time()) - 60}", precision="s")
    response = emu.invoke(relative, {"mybucket": "seed2", "myrangestart": "-1h"})
    assert [r["_value"] for r in records(response.text)] == ["99"]


def test_a_string_range_start_is_a_400_not_a_guess(emu: EmulatorServer) -> None:
    script_id = emu.create_script(
        f"rangestart-str-{uuid.uuid4().hex[:6]}",
        "from(bucket: params.b) |> range(start: params.myrangestart)",
    )
    response = emu.invoke(script_id, {"b": "default", "myrangestart": "-7d"})
    assert response.status_code == 400
    assert "range(): start must be a time, a duration or an int, got string" in response.json()["message"]


def test_write_rejects_bad_line_protocol_unknown_bucket_and_type_conflicts(emu: EmulatorServer) -> None:
    with emu.http() as client:
        bad = client.post("/api/v2/write", params={"bucket": "default"}, content="m v=")
        unknown = client.post("/api/v2/write", params={"bucket": "nope"}, content="m v=1")
        missing = client.post("/api/v2/write", content="m v=1")
        client.post("/api/v2/write", params={"bucket": "default"}, content="conflict v=1")
        conflict = client.post("/api/v2/write", params={"bucket": "default"}, content="conflict v=1i")
        other_org = client.post(
            "/api/v2/write", params={"bucket": "default", "org": "org-b"}, content="m v=1"
        )
    assert (bad.status_code, bad.json()["code"]) == (400, "invalid")
    assert "line 1" in bad.json()["message"]
    assert (unknown.status_code, unknown.json()["message"]) == (404, 'bucket "nope" not found')
    assert (missing.status_code, missing.json()["message"]) == (400, "bucket is required")
    assert conflict.status_code == 400
    assert "field type conflict" in conflict.json()["message"]
    assert other_org.status_code == 404


def test_buckets_are_listed_and_created_per_org(emu: EmulatorServer) -> None:
    name = f"bk-{uuid.uuid4().hex[:6]}"
    with emu.http("tok-a") as client:
        created = client.post("/api/v2/buckets", json={"name": name})
        again = client.post("/api/v2/buckets", json={"name": name})
        names = [b["name"] for b in client.get("/api/v2/buckets").json()["buckets"]]
    with emu.http("tok-b") as other:
        other_names = [b["name"] for b in other.get("/api/v2/buckets").json()["buckets"]]
    assert created.status_code == 201
    assert again.status_code == 422
    assert name in names
    assert name not in other_names


def test_sample_data_has_eight_sensors_three_fields_a_point_a_minute(sample_emu: EmulatorServer) -> None:
    script_id = sample_emu.create_script(
        "sample-last",
        'from(bucket: "air_sensor") |> range(start: -30d)'
        ' |> filter(fn: (r) => r._measurement == "airSensors") |> last()',
    )
    rows = records(sample_emu.invoke(script_id).text)
    assert len({r["sensor_id"] for r in rows}) >= 8
    assert {r["_field"] for r in rows} == {"temperature", "humidity", "co"}
    count_id = sample_emu.create_script(
        "sample-hour",
        'from(bucket: "air_sensor") |> range(start: -1h)'
        ' |> filter(fn: (r) => r.sensor_id == "TLM0100" and r._field == "co")',
    )
    assert len(records(sample_emu.invoke(count_id).text)) in {59, 60}
    seed = sample_emu.create_script(
        "seed-last-point", "from(bucket:params.mybucket) |> range(start: -7d) |> limit(n:1)"
    )
    assert len(records(sample_emu.invoke(seed, {"mybucket": "air_sensor"}).text)) == 24


def test_scripts_survive_a_restart_with_a_file_database(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    server = start_emulator(tmp_path_factory, db=tmp_path / "scripts.db")
    try:
        script_id = server.create_script("kept", "from(bucket: params.b) |> range(start: -1h)")
        server.restart()
        with server.http() as client:
            response = client.get(f"/api/v2/scripts/{script_id}")
        assert response.status_code == 200
        assert response.json()["name"] == "kept"
    finally:
        server.stop()


def test_memory_database_forgets_scripts_on_restart(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_emulator(tmp_path_factory, db=":memory:", via_cli=True)  # the real `scriptcron emulator`
    try:
        script_id = server.create_script("forgotten", "x")
        server.restart()
        assert (
            httpx.get(f"{server.url}/api/v2/scripts/{script_id}", headers=server.headers()).status_code == 404
        )
    finally:
        server.stop()


def test_a_large_result_streams_in_chunks(sample_emu: EmulatorServer) -> None:
    script_id = sample_emu.create_script("big", 'from(bucket: "air_sensor") |> range(start: -2d)')
    chunks = 0
    size = 0
    with (
        sample_emu.http() as client,
        client.stream("POST", f"/api/v2/scripts/{script_id}/invoke", json={}) as response,
    ):
        for chunk in response.iter_raw():
            chunks += 1
            size += len(chunk)
    assert size > 8 * 1024 * 1024
    assert chunks > 8
