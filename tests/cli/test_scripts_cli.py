"""`scriptcron scripts ...` through typer's runner: output, stderr, exit codes (0 ok, 1 server, 2 usage)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner, Result

from app.cli import areas, scripts
from app.cli.scripts import infer_value
from app.influx import ScriptsClient
from tests.influx.fakes import CSV_BODY, SCRIPT_ID, TOKEN, csv_response, error, script_json

HOST = "http://influx.test:8086"
ENV = {"INFLUX_HOST": HOST, "INFLUX_TOKEN": TOKEN}

Handler = Callable[[httpx.Request], httpx.Response]


class FakeInflux:
    """Answers every request with ``handler`` and records what the CLI sent."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.requests: list[httpx.Request] = []
        self.handler: Handler = lambda request: httpx.Response(204)
        self.connected: list[tuple[str, str]] = []
        monkeypatch.setattr(scripts, "make_client", self._make_client)

    def _make_client(self, host: str, token: str) -> ScriptsClient:
        self.connected.append((host, token))
        transport = httpx.MockTransport(self._answer)
        return ScriptsClient(host, token, client=httpx.Client(transport=transport))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture
def influx(monkeypatch: pytest.MonkeyPatch) -> FakeInflux:
    return FakeInflux(monkeypatch)


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root."""

    scripts.register(app)
    return app


def run(cli: typer.Typer, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["scripts", *args], env=ENV if env is None else env, input=stdin)


def test_scripts_area_is_registered_with_the_root_cli() -> None:
    assert scripts.register in areas.REGISTRARS


# --- create ------------------------------------------------------------------------------------------


def test_create_from_a_file_prints_the_script_id_first(
    cli: typer.Typer, influx: FakeInflux, tmp_path: Path
) -> None:
    influx.handler = lambda request: httpx.Response(201, json=script_json())
    source = tmp_path / "last.flux"
    source.write_text("from(bucket: params.mybucket)")

    result = run(cli, "create", "--name", "getLastPoint", "--description", "d", "--file", str(source))

    assert result.exit_code == 0, result.stderr
    first = result.stdout.splitlines()[0].split()
    assert first == ["id", SCRIPT_ID]
    assert "getLastPoint" in result.stdout
    assert influx.body() == {
        "name": "getLastPoint",
        "description": "d",
        "script": "from(bucket: params.mybucket)",
        "language": "flux",
    }
    assert influx.connected == [(HOST, TOKEN)]


def test_create_reads_the_script_from_stdin(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(201, json=script_json(language="sql"))
    result = run(cli, "create", "--name", "q", "--language", "sql", "--json", stdin="SELECT 1")
    assert result.exit_code == 0, result.stderr
    assert influx.body()["script"] == "SELECT 1"
    assert influx.body()["language"] == "sql"
    assert json.loads(result.stdout)["id"] == SCRIPT_ID


def test_create_with_an_existing_name_prints_the_conflict_and_exits_1(
    cli: typer.Typer, influx: FakeInflux
) -> None:
    influx.handler = lambda request: error(422, "conflict", "uniqueness violation")
    result = run(cli, "create", "--name", "dup", stdin="x")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: conflict: uniqueness violation"
    assert result.stdout == ""


def test_create_with_an_empty_script_is_a_usage_error(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "create", "--name", "n", stdin="  \n")
    assert result.exit_code == 2
    assert "empty" in result.stderr
    assert influx.requests == []


def test_create_with_an_unknown_language_is_a_usage_error(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "create", "--name", "n", "--language", "python", stdin="x")
    assert result.exit_code == 2
    assert influx.requests == []


def test_create_with_an_unreadable_file_is_a_usage_error(
    cli: typer.Typer, influx: FakeInflux, tmp_path: Path
) -> None:
    result = run(cli, "create", "--name", "n", "--file", str(tmp_path / "missing.flux"))
    assert result.exit_code == 2
    assert "--file" in result.stderr


# --- list --------------------------------------------------------------------------------------------


def _paged(total: int) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        offset, limit = int(request.url.params["offset"]), int(request.url.params["limit"])
        ids = range(offset, min(offset + limit, total))
        return httpx.Response(200, json={"scripts": [script_json(f"{i:016x}", f"script-{i}") for i in ids]})

    return handler


def test_list_prints_a_table(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = _paged(3)
    result = run(cli, "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "language", "description", "updatedAt"]
    assert [line.split()[1] for line in lines[1:]] == ["script-0", "script-1", "script-2"]


def test_list_passes_limit_offset_and_name(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(200, json={"scripts": []})
    result = run(cli, "list", "--limit", "5", "--offset", "10", "--name", "x")
    assert result.exit_code == 0, result.stderr
    assert dict(influx.requests[0].url.params) == {"offset": "10", "limit": "5", "name": "x"}


def test_list_json_prints_the_contract_fields(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = _paged(2)
    result = run(cli, "list", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [item["name"] for item in data] == ["script-0", "script-1"]
    assert data[0]["orgID"] == "bea7ea952287f70d"


def test_list_all_walks_every_page(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = _paged(1203)
    result = run(cli, "list", "--all", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1203
    assert [r.url.params["offset"] for r in influx.requests] == ["0", "500", "1000"]


def test_list_all_with_offset_is_a_usage_error(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "list", "--all", "--offset", "3")
    assert result.exit_code == 2
    assert "--offset" in result.stderr


def test_list_limit_above_500_is_a_usage_error(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "list", "--limit", "501")
    assert result.exit_code == 2
    assert influx.requests == []


# --- get / update / delete / params ------------------------------------------------------------------


def test_get_prints_the_script(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(200, json=script_json())
    result = run(cli, "get", SCRIPT_ID)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0].split() == ["id", SCRIPT_ID]
    assert "from(bucket: params.mybucket)" in result.stdout


def test_get_json(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(200, json=script_json())
    result = run(cli, "get", SCRIPT_ID, "--json")
    assert json.loads(result.stdout) == script_json()


def test_get_unknown_prints_the_servers_404_and_exits_1(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: error(404, "not found", 'script "nope" not found')
    result = run(cli, "get", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == 'error: not found: script "nope" not found'


def test_update_sends_only_the_description(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(200, json=script_json(description="new"))
    result = run(cli, "update", SCRIPT_ID, "--description", "new")
    assert result.exit_code == 0, result.stderr
    assert influx.requests[0].method == "PATCH"
    assert influx.body() == {"description": "new"}
    assert "new" in result.stdout


def test_update_sends_the_script_file(cli: typer.Typer, influx: FakeInflux, tmp_path: Path) -> None:
    influx.handler = lambda request: httpx.Response(200, json=script_json())
    source = tmp_path / "s.flux"
    source.write_text("from(bucket: params.b)")
    result = run(cli, "update", SCRIPT_ID, "--file", str(source))
    assert result.exit_code == 0, result.stderr
    assert influx.body() == {"script": "from(bucket: params.b)"}


def test_update_without_changes_is_a_usage_error(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "update", SCRIPT_ID)
    assert result.exit_code == 2
    assert "nothing to update" in result.stderr
    assert influx.requests == []


def test_delete_prints_the_deleted_id(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "delete", SCRIPT_ID)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == f"deleted {SCRIPT_ID}"
    assert influx.requests[0].method == "DELETE"


def test_delete_unauthorized_exits_1(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: error(401, "unauthorized", "unauthorized access")
    result = run(cli, "delete", SCRIPT_ID)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: unauthorized: unauthorized access"


def test_params_prints_names_and_types(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(
        200, json={"params": {"start": "string", "bucket": "string"}}
    )
    result = run(cli, "params", SCRIPT_ID)
    assert result.exit_code == 0, result.stderr
    assert [line.split() for line in result.stdout.splitlines()] == [
        ["name", "type"],
        ["bucket", "string"],
        ["start", "string"],
    ]


def test_params_json(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: httpx.Response(200, json={"params": {"n": "int"}})
    assert json.loads(run(cli, "params", SCRIPT_ID, "--json").stdout) == {"n": "int"}


# --- invoke ------------------------------------------------------------------------------------------


def test_invoke_streams_the_csv_to_stdout(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: csv_response(CSV_BODY[:10], CSV_BODY[10:])
    result = run(cli, "invoke", SCRIPT_ID)
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == CSV_BODY
    assert influx.body() == {}


def test_invoke_infers_param_types_and_takes_json_values(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: csv_response(CSV_BODY)
    result = run(
        cli,
        "invoke",
        SCRIPT_ID,
        "--params-json",
        '{"bucket": "air", "n": 1}',
        "--param",
        "n=5",
        "--param",
        "ratio=0.5",
        "--param",
        "on=true",
        "--param",
        "start=-7d",
        "--param",
        'id:="42"',
        "--param",
        "tags:=[1, 2]",
        "--param",
        "expr=a=b",
    )
    assert result.exit_code == 0, result.stderr
    assert influx.body() == {
        "params": {
            "bucket": "air",
            "n": 5,
            "ratio": 0.5,
            "on": True,
            "start": "-7d",
            "id": "42",
            "tags": [1, 2],
            "expr": "a=b",
        }
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("7", 7), ("-3", -3), ("1.5", 1.5), ("1e3", 1000.0), ("TRUE", True), ("false", False),
     ("1_000", "1_000"), ("nan", "nan"), ("inf", "inf"), ("", ""), ("air", "air")],
)  # fmt: skip
def test_param_value_inference(text: str, value: object) -> None:
    assert infer_value(text) == value
    assert type(infer_value(text)) is type(value)


@pytest.mark.parametrize(
    "args",
    [["--param", "novalue"], ["--param", "=v"], ["--param", "x:={bad"], ["--params-json", "[1]"],
     ["--params-json", "{bad"]],
)  # fmt: skip
def test_bad_params_are_usage_errors(cli: typer.Typer, influx: FakeInflux, args: list[str]) -> None:
    result = run(cli, "invoke", SCRIPT_ID, *args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert influx.requests == []


def test_invoke_writes_the_output_file(cli: typer.Typer, influx: FakeInflux, tmp_path: Path) -> None:
    influx.handler = lambda request: csv_response(CSV_BODY)
    target = tmp_path / "out.csv"
    result = run(cli, "invoke", SCRIPT_ID, "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.read_bytes() == CSV_BODY
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_invoke_leaves_no_partial_output_file(
    cli: typer.Typer, influx: FakeInflux, tmp_path: Path
) -> None:
    tail = b"\r\n,error,reference\r\n,runtime error: boom,\r\n"
    influx.handler = lambda request: csv_response(CSV_BODY[:-2], tail)
    target = tmp_path / "out.csv"
    result = run(cli, "invoke", SCRIPT_ID, "--output", str(target))
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: script failed: runtime error: boom"
    assert list(tmp_path.iterdir()) == []


def test_a_cut_off_invoke_keeps_the_previous_output_file(
    cli: typer.Typer, influx: FakeInflux, tmp_path: Path
) -> None:
    influx.handler = lambda request: csv_response(CSV_BODY[:30], fail_with=httpx.RemoteProtocolError("cut"))
    target = tmp_path / "out.csv"
    target.write_bytes(b"previous\r\n")
    result = run(cli, "invoke", SCRIPT_ID, "--output", str(target))
    assert result.exit_code == 1
    assert "cut" in result.stderr
    assert target.read_bytes() == b"previous\r\n"
    assert list(tmp_path.iterdir()) == [target]


def test_invoke_with_missing_params_prints_the_400(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: error(400, "invalid", "invalid parameters provided")
    result = run(cli, "invoke", SCRIPT_ID)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: invalid: invalid parameters provided"


def test_invoke_rate_limited_exits_1(cli: typer.Typer, influx: FakeInflux) -> None:
    influx.handler = lambda request: error(429, "too many requests", "org over limit", {"Retry-After": "30"})
    result = run(cli, "invoke", SCRIPT_ID)
    assert result.exit_code == 1
    assert "too many requests: org over limit" in result.stderr


# --- connection settings -----------------------------------------------------------------------------


def test_a_missing_token_is_a_usage_error_naming_the_flag_and_variable(
    cli: typer.Typer, influx: FakeInflux
) -> None:
    result = run(cli, "list", env={"INFLUX_HOST": HOST, "INFLUX_TOKEN": ""})
    assert result.exit_code == 2
    assert "--token" in result.stderr
    assert "INFLUX_TOKEN" in result.stderr
    assert influx.connected == []


def test_a_missing_host_is_a_usage_error_naming_the_flag_and_variable(
    cli: typer.Typer, influx: FakeInflux
) -> None:
    result = run(cli, "get", SCRIPT_ID, env={"INFLUX_HOST": "", "INFLUX_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert "--host" in result.stderr
    assert "INFLUX_HOST" in result.stderr


def test_flags_override_the_environment(cli: typer.Typer, influx: FakeInflux) -> None:
    result = run(cli, "delete", SCRIPT_ID, "--host", "http://other:9999", "--token", "flagtok", "--org", "o")
    assert result.exit_code == 0, result.stderr
    assert influx.connected == [("http://other:9999", "flagtok")]
    assert influx.requests[0].headers["Authorization"] == "Token flagtok"


def test_a_host_that_is_not_a_url_is_a_usage_error(cli: typer.Typer) -> None:
    result = run(cli, "list", env={"INFLUX_HOST": "localhost:8086", "INFLUX_TOKEN": TOKEN})
    assert result.exit_code == 2
    assert "--host" in result.stderr


def test_a_network_error_exits_1_without_the_token(cli: typer.Typer, influx: FakeInflux) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    influx.handler = refuse
    result = run(cli, "list")
    assert result.exit_code == 1
    assert "Connection refused" in result.stderr
    assert TOKEN not in result.output


def test_help_never_shows_the_token_from_the_environment(cli: typer.Typer) -> None:
    result = run(cli, "list", "--help")
    assert result.exit_code == 0
    assert "INFLUX_TOKEN" in result.stdout
    assert TOKEN not in result.stdout
