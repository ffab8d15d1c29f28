"""scriptcron's own client (app.influx) and the `scriptcron scripts` CLI against the emulator."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.influx import ScriptCreate, ScriptLanguage, ScriptsClient, ScriptUpdate
from app.influx.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    ScriptRuntimeError,
    ServerError,
    TruncatedBodyError,
    UnauthorizedError,
)
from tests.support.emulator import EmulatorServer
from tests.support.services import scriptcron_cmd

pytestmark = pytest.mark.integration
SCRIPT = "from(bucket: params.b) |> range(start: 2023-11-14T00:00:00Z, stop: 2023-11-15T00:00:00Z)"
LINES = "\n".join(f"m,t=a v={i}i {1700000000 + i}" for i in range(5))


@pytest.fixture(scope="module")
def client(emu: EmulatorServer) -> Iterator[ScriptsClient]:
    emu.write("ours", LINES, precision="s")
    with ScriptsClient(emu.url, "tok-a") as value:
        yield value


def new(client: ScriptsClient, script: str = SCRIPT) -> str:
    created = client.create(
        ScriptCreate(
            name=f"ours-{uuid.uuid4().hex[:8]}", description="d", script=script, language=ScriptLanguage.FLUX
        )
    )
    return created.id


def test_ping_and_crud(client: ScriptsClient) -> None:
    client.ping()
    script_id = new(client)
    assert client.get(script_id).script == SCRIPT
    assert client.update(script_id, ScriptUpdate(description="changed")).description == "changed"
    assert script_id in [s.id for s in client.iter_all(page_size=1)]
    assert client.params(script_id) == {"b": "string"}
    client.delete(script_id)
    with pytest.raises(NotFoundError):
        client.get(script_id)


def test_conflict_and_bad_request(client: ScriptsClient) -> None:
    name = f"ours-dup-{uuid.uuid4().hex[:6]}"
    client.create(ScriptCreate(name=name, description="", script="x", language=ScriptLanguage.FLUX))
    with pytest.raises(ConflictError) as info:
        client.create(ScriptCreate(name=name, description="", script="x", language=ScriptLanguage.FLUX))
    assert (info.value.status, info.value.code) == (422, "conflict")
    with pytest.raises(BadRequestError) as bad, client.invoke(new(client)) as result:
        b"".join(result.iter_bytes())
    assert bad.value.message == "invalid parameters provided"


def test_invoke_streams_the_csv(client: ScriptsClient) -> None:
    with client.invoke(new(client), {"b": "ours"}) as result:
        lines = list(result.iter_lines())
    assert lines[0] == ",result,table,_start,_stop,_time,_value,_field,_measurement,t"
    assert [line.split(",")[6] for line in lines[1:6]] == ["0", "1", "2", "3", "4"]


def test_unauthorized(emu: EmulatorServer) -> None:
    with ScriptsClient(emu.url, "wrong") as bad, pytest.raises(UnauthorizedError):
        bad.list()


def test_faults_map_to_the_client_errors(client: ScriptsClient, emu: EmulatorServer) -> None:
    script_id = new(client)
    try:
        emu.set_faults({"rate429": 1, "retry_after_s": 4})
        with pytest.raises(RateLimitedError) as limited, client.invoke(script_id, {"b": "ours"}):
            pass
        assert limited.value.retry_after == 4
        emu.set_faults({"rate503": 1})
        with pytest.raises(ServerError), client.invoke(script_id, {"b": "ours"}):
            pass
        emu.set_faults({"error_after_rows": 2})
        with (
            pytest.raises(ScriptRuntimeError, match="injected error after 2 rows"),
            client.invoke(script_id, {"b": "ours"}) as result,
        ):
            b"".join(result.iter_bytes())
        emu.set_faults({"drop_after_bytes": 150})
        with pytest.raises(TruncatedBodyError), client.invoke(script_id, {"b": "ours"}) as result:
            b"".join(result.iter_bytes())
    finally:
        emu.set_faults({})


@pytest.fixture(scope="module")
def cli() -> CliRunner:
    from app.cli.main import _register, app

    if not any(getattr(group, "name", None) == "scripts" for group in app.registered_groups):
        _register()
    return CliRunner()


def run_cli(cli: CliRunner, emu: EmulatorServer, *args: str) -> tuple[int, str, str]:
    from app.cli.main import app

    result = cli.invoke(app, list(args), env={"INFLUX_HOST": emu.url, "INFLUX_TOKEN": "tok-a"})
    return result.exit_code, result.stdout, result.stderr


def test_scripts_cli_create_list_params_invoke_delete(
    cli: CliRunner, emu: EmulatorServer, tmp_path: Path
) -> None:
    script_file = tmp_path / "s.flux"
    script_file.write_text(SCRIPT)
    name = f"cli-{uuid.uuid4().hex[:6]}"
    code, out, err = run_cli(
        cli, emu, "scripts", "create", "--name", name, "--file", str(script_file), "--json"
    )
    assert code == 0, err
    script_id = json.loads(out)["id"]
    code, out, _ = run_cli(cli, emu, "scripts", "list", "--name", name, "--json")
    assert [s["id"] for s in json.loads(out)] == [script_id]
    code, out, _ = run_cli(cli, emu, "scripts", "params", script_id, "--json")
    assert json.loads(out) == {"b": "string"}
    target = tmp_path / "out.csv"
    code, _, err = run_cli(
        cli, emu, "scripts", "invoke", script_id, "--param", "b=ours", "--output", str(target)
    )
    assert code == 0, err
    assert target.read_text().count(",_result,0,") == 5
    code, _, _ = run_cli(cli, emu, "scripts", "delete", script_id)
    assert code == 0
    code, _, err = run_cli(cli, emu, "scripts", "get", script_id)
    assert code == 1
    assert "not found" in err


def test_scripts_cli_invoke_without_params_fails_with_the_server_message(
    cli: CliRunner, emu: EmulatorServer
) -> None:
    script_id = emu.create_script(f"cli-noparams-{uuid.uuid4().hex[:6]}", SCRIPT, token="tok-a")
    code, _, err = run_cli(cli, emu, "scripts", "invoke", script_id)
    assert code == 1
    assert "invalid parameters provided" in err


def test_scriptcron_scripts_subprocess_lists_the_emulator_scripts(emu: EmulatorServer) -> None:
    name = f"proc-{uuid.uuid4().hex[:6]}"
    emu.create_script(name, SCRIPT, token="tok-a")
    done = subprocess.run(
        scriptcron_cmd("scripts", "list", "--name", name, "--json", "--host", emu.url, "--token", "tok-a"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [s["name"] for s in json.loads(done.stdout)] == [name]
