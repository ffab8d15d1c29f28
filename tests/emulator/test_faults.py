"""Fault injection, per request (X-Emulator-Faults), server-wide (POST /emulator/faults) and at start."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.emulator.faults import Faults, FaultState, parse_header
from app.emulator.generated import FAST_CSV, generated_chunks
from tests.emulator.conftest import start_emulator
from tests.support.emulator import EmulatorServer

SCRIPT = 'from(bucket: "faults") |> range(start: 2023-11-14T00:00:00Z, stop: 2023-11-15T00:00:00Z)'
LINES = "\n".join(f"m,t=a v={i}i {1700000000000000000 + i * 10**9}" for i in range(10))


@pytest.fixture(scope="module")
def script_id(emu: EmulatorServer) -> str:
    emu.write("faults", LINES)
    return emu.create_script(f"faults-{uuid.uuid4().hex[:6]}", SCRIPT)


@pytest.fixture
def clean_faults(emu: EmulatorServer) -> Iterator[EmulatorServer]:
    emu.set_faults({})
    yield emu
    emu.set_faults({})


def invoke(emu: EmulatorServer, script_id: str, faults: str | None = None) -> httpx.Response:
    headers = {"X-Emulator-Faults": faults} if faults else {}
    return emu.invoke(script_id, headers=headers)


# -- unit: parsing and drawing ------------------------------------------------------------------------
def test_header_parsing_validates_names_and_values() -> None:
    assert parse_header("latency_ms=5, rate429=0.5,fast=true") == {
        "latency_ms": 5.0,
        "rate429": 0.5,
        "fast": True,
    }
    for bad in ("nope=1", "rate429=2", "latency_ms=-1", "fast=maybe", "rate500"):
        with pytest.raises(Exception, match=r"fault|X-Emulator-Faults"):
            parse_header(bad)


def test_seeded_fractions_are_reproducible() -> None:
    faults = Faults(rate429=0.3, rate500=0.2, seed=7)
    one, two = FaultState(faults), FaultState(faults)
    first = [one.status_fault(faults) for _ in range(50)]
    assert first == [two.status_fault(faults) for _ in range(50)]
    assert {429, 500, None} <= set(first)


def test_fractions_come_out_near_their_rates() -> None:
    faults = Faults(rate429=0.3, rate503=0.1, seed=1)
    state = FaultState(faults)
    outcomes = [state.status_fault(faults) for _ in range(2000)]
    assert 0.25 < outcomes.count(429) / 2000 < 0.35
    assert 0.07 < outcomes.count(503) / 2000 < 0.13
    assert outcomes.count(500) == 0


@pytest.mark.parametrize("size", [40, 200, 128 * 8192 + 77, 3 * 1024 * 1024 + 5])
def test_generated_body_has_exactly_the_requested_size(size: int) -> None:
    body = b"".join(generated_chunks(size))
    assert len(body) == size
    assert body.endswith(b"\r\n\r\n")
    assert body.startswith(b",result,table,_value\r\n")


# -- integration ------------------------------------------------------------------------------------
@pytest.mark.integration
def test_rate429_answers_429_with_retry_after(clean_faults: EmulatorServer, script_id: str) -> None:
    response = invoke(clean_faults, script_id, "rate429=1,retry_after_s=7")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["x-platform-error-code"] == "too many requests"
    assert response.json()["code"] == "too many requests"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "status", "code"), [("rate500", 500, "internal error"), ("rate503", 503, "unavailable")]
)
def test_server_error_fractions(
    clean_faults: EmulatorServer, script_id: str, name: str, status: int, code: str
) -> None:
    response = invoke(clean_faults, script_id, f"{name}=1")
    assert response.status_code == status
    assert response.headers["x-platform-error-code"] == code


@pytest.mark.integration
def test_admin_endpoint_sets_server_wide_seeded_faults(clean_faults: EmulatorServer, script_id: str) -> None:
    def statuses() -> list[int]:
        clean_faults.set_faults({"rate429": 0.5, "seed": 3})
        return [invoke(clean_faults, script_id).status_code for _ in range(12)]

    first, second = statuses(), statuses()
    assert first == second
    assert set(first) == {200, 429}
    assert httpx.get(f"{clean_faults.url}/emulator/faults").json()["rate429"] == 0.5


@pytest.mark.integration
def test_admin_endpoint_rejects_unknown_faults(clean_faults: EmulatorServer) -> None:
    response = httpx.post(f"{clean_faults.url}/emulator/faults", json={"explode": 1})
    assert response.status_code == 400
    assert "explode" in response.json()["message"]


@pytest.mark.integration
def test_status_faults_apply_only_to_invoke_unless_scope_all(
    clean_faults: EmulatorServer, script_id: str
) -> None:
    with clean_faults.http() as client:
        assert client.get("/api/v2/scripts", headers={"X-Emulator-Faults": "rate503=1"}).status_code == 200
        assert (
            client.get("/api/v2/scripts", headers={"X-Emulator-Faults": "rate503=1,scope=all"}).status_code
            == 503
        )


@pytest.mark.integration
def test_latency_delays_the_answer(clean_faults: EmulatorServer, script_id: str) -> None:
    response = invoke(clean_faults, script_id, "latency_ms=300")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.3
    random_latency = invoke(clean_faults, script_id, "latency_ms=100,latency_max_ms=200,seed=1")
    assert random_latency.elapsed.total_seconds() >= 0.1


@pytest.mark.integration
def test_connection_dropped_after_n_bytes(clean_faults: EmulatorServer, script_id: str) -> None:
    received = bytearray()
    headers = {"X-Emulator-Faults": "drop_after_bytes=100"}

    def read_all() -> None:
        with (
            clean_faults.http() as client,
            client.stream(
                "POST", f"/api/v2/scripts/{script_id}/invoke", json={}, headers=headers
            ) as response,
        ):
            assert response.status_code == 200
            for chunk in response.iter_bytes():
                received.extend(chunk)

    with pytest.raises(httpx.RemoteProtocolError):
        read_all()
    assert len(received) == 100


@pytest.mark.integration
def test_error_table_after_n_rows(clean_faults: EmulatorServer, script_id: str) -> None:
    response = invoke(clean_faults, script_id, "error_after_rows=3")
    assert response.status_code == 200
    lines = response.text.split("\r\n")
    assert len([line for line in lines if line.startswith(",_result,")]) == 3
    assert response.text.endswith("\r\n\r\n,error,reference\r\n,injected error after 3 rows,\r\n")


@pytest.mark.integration
def test_generated_result_of_n_bytes_is_streamed(clean_faults: EmulatorServer, script_id: str) -> None:
    size = 5 * 1024 * 1024 + 3
    total = 0
    with (
        clean_faults.http() as client,
        client.stream(
            "POST",
            f"/api/v2/scripts/{script_id}/invoke",
            json={},
            headers={"X-Emulator-Faults": f"generate_bytes={size}"},
        ) as response,
    ):
        for chunk in response.iter_bytes():
            total += len(chunk)
    assert total == size


@pytest.mark.integration
def test_fast_mode_answers_the_constant_csv(clean_faults: EmulatorServer, script_id: str) -> None:
    response = invoke(clean_faults, script_id, "fast=1")
    assert response.status_code == 200
    assert response.content == FAST_CSV
    cut = invoke(clean_faults, script_id, "fast=1,error_after_rows=1")
    assert cut.text.endswith(",error,reference\r\n,injected error after 1 rows,\r\n")


@pytest.mark.integration
def test_fast_mode_still_checks_auth_and_the_script(clean_faults: EmulatorServer) -> None:
    headers = {"X-Emulator-Faults": "fast=1"}
    assert httpx.post(f"{clean_faults.url}/api/v2/scripts/x/invoke", headers=headers).status_code == 401
    with clean_faults.http() as client:
        assert client.post("/api/v2/scripts/0000000000000000/invoke", headers=headers).status_code == 404


@pytest.mark.integration
def test_faults_given_at_start(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_emulator(tmp_path_factory, extra_args=["--fast", "--faults", "rate429=1,retry_after_s=3"])
    try:
        script_id = server.create_script("s", "x")
        response = server.invoke(script_id)
        assert (response.status_code, response.headers["retry-after"]) == (429, "3")
        server.set_faults({"fast": True})
        assert server.invoke(script_id).content == FAST_CSV
    finally:
        server.stop()
