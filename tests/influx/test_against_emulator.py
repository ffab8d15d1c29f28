"""The client and `scriptcron scripts` against the real emulator process on a real port."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from app.cli import scripts as scripts_cli
from app.influx import ScriptCreate, ScriptsClient, ScriptUpdate
from app.influx.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ScriptRuntimeError,
    TruncatedBodyError,
    UnauthorizedError,
)
from tests.support.emulator import EmulatorServer
from tests.support.services import unavailable

pytestmark = pytest.mark.integration

SCRIPT = 'from(bucket: params.bucket) |> range(start: -100y) |> filter(fn: (r) => r._measurement == "m")'
LINES = "\n".join(f"m,host=h{i} v={i} {1_700_000_000 + i}000000000" for i in range(5))


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorServer]:
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    try:
        server = EmulatorServer(log_path=log).start()
    except (RuntimeError, TimeoutError) as exc:
        unavailable(f"cannot start the emulator: {exc}")
    server.write("air", LINES)
    yield server
    server.stop()


@pytest.fixture
def client(emu: EmulatorServer) -> Iterator[ScriptsClient]:
    emu.set_faults({})
    with ScriptsClient(emu.url, emu.token) as value:
        yield value
    emu.set_faults({})


def _invoke(client: ScriptsClient, script_id: str, params: dict[str, object]) -> bytes:
    with client.invoke(script_id, params) as result:
        return b"".join(result.iter_bytes())


def test_every_call_round_trips(client: ScriptsClient) -> None:
    client.ping()
    created = client.create(ScriptCreate(name="roundtrip", description="d", script=SCRIPT))
    assert len(created.id) == 16
    assert client.get(created.id) == created
    assert created.id in {s.id for s in client.iter_all(page_size=1)}
    assert [s.id for s in client.list(name="roundtrip")] == [created.id]
    assert client.params(created.id) == {"bucket": "string"}

    body = _invoke(client, created.id, {"bucket": "air"})
    assert body.startswith(b",result,table,")
    assert body.endswith(b"\r\n\r\n")
    assert body.count(b",_result,") == 5

    updated = client.update(created.id, ScriptUpdate(description="new"))
    assert (updated.description, updated.script) == ("new", SCRIPT)
    client.delete(created.id)
    with pytest.raises(NotFoundError, match=created.id):
        client.get(created.id)


def test_a_duplicate_name_is_a_conflict(client: ScriptsClient) -> None:
    client.create(ScriptCreate(name="dup", script=SCRIPT))
    with pytest.raises(ConflictError):
        client.create(ScriptCreate(name="dup", script=SCRIPT))


def test_missing_params_are_a_bad_request(client: ScriptsClient) -> None:
    script = client.create(ScriptCreate(name="needs-params", script=SCRIPT))
    with pytest.raises(BadRequestError), client.invoke(script.id):
        pass


def test_a_wrong_token_is_unauthorized(emu: EmulatorServer) -> None:
    with ScriptsClient(emu.url, "wrong") as client, pytest.raises(UnauthorizedError):
        client.list()


def test_an_error_table_after_rows_raises(emu: EmulatorServer, client: ScriptsClient) -> None:
    script = client.create(ScriptCreate(name="tail", script=SCRIPT))
    emu.set_faults({"fast": True, "error_after_rows": 2})
    with pytest.raises(ScriptRuntimeError) as caught:
        _invoke(client, script.id, {"bucket": "air"})
    assert caught.value.message


def test_a_dropped_connection_is_truncated(emu: EmulatorServer, client: ScriptsClient) -> None:
    script = client.create(ScriptCreate(name="drop", script=SCRIPT))
    emu.set_faults({"fast": True, "drop_after_bytes": 100})
    with pytest.raises(TruncatedBodyError):
        _invoke(client, script.id, {"bucket": "air"})


def test_a_429_carries_retry_after(emu: EmulatorServer, client: ScriptsClient) -> None:
    script = client.create(ScriptCreate(name="limited", script=SCRIPT))
    emu.set_faults({"fast": True, "rate429": 1.0, "retry_after_s": 7})
    with pytest.raises(RateLimitedError) as caught, client.invoke(script.id, {"bucket": "air"}):
        pass
    assert caught.value.retry_after == 7.0


def test_the_cli_creates_invokes_and_deletes(
    emu: EmulatorServer, client: ScriptsClient, tmp_path: Path
) -> None:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    scripts_cli.register(app)
    runner = CliRunner()
    env = {"INFLUX_HOST": emu.url, "INFLUX_TOKEN": emu.token}

    created = runner.invoke(app, ["scripts", "create", "--name", "cli", "--json"], input=SCRIPT, env=env)
    assert created.exit_code == 0, created.stderr
    script_id = json.loads(created.stdout)["id"]

    listed = runner.invoke(app, ["scripts", "list", "--all"], env=env)
    assert script_id in listed.stdout

    target = tmp_path / "out.csv"
    invoked = runner.invoke(
        app, ["scripts", "invoke", script_id, "--param", "bucket=air", "--output", str(target)], env=env
    )
    assert invoked.exit_code == 0, invoked.stderr
    assert target.read_bytes().count(b",_result,") == 5

    assert runner.invoke(app, ["scripts", "delete", script_id], env=env).exit_code == 0
    missing = runner.invoke(app, ["scripts", "get", script_id], env=env)
    assert missing.exit_code == 1
    assert missing.stderr.startswith("error: not found: ")
