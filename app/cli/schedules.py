"""``scriptcron schedules ...``: schedules through the API (from flags or a YAML/JSON file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from app.cli import output
from app.cli.apiclient import ApiTokenOpt, ApiUrlOpt, JsonOpt, api

schedules_app = typer.Typer(name="schedules", help="Schedules of InfluxDB scripts.", no_args_is_help=True)
COLUMNS = (
    "id",
    "name",
    "connection_id",
    "script_id",
    "cron",
    "interval_s",
    "timezone",
    "enabled",
    "next_fire_at",
)

FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="YAML or JSON file with the schedule's fields.", exists=True),
]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE (repeatable): one param object.")
]
MatrixOpt = Annotated[
    list[str] | None, typer.Option("--matrix", "-m", help="NAME=V1,V2,... (repeatable): a matrix dimension.")
]


def scalar(text: str) -> Any:
    """``3`` -> 3, ``1.5`` -> 1.5, ``true`` -> True, anything else stays a string."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float | str) else text


def _pairs(items: list[str] | None, option: str) -> list[tuple[str, str]]:
    pairs = []
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            output.usage_error(f"{option} expects NAME=VALUE, got {item!r}")
        pairs.append((name.strip(), value))
    return pairs


def load_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        output.usage_error(f"cannot read {path}: {exc}")
    if not isinstance(data, dict):
        output.usage_error(f"{path} must hold an object of schedule fields")
    return data


def build_body(
    file: Path | None, params: list[str] | None, matrix: list[str] | None, **flags: Any
) -> dict[str, Any]:
    """The file's fields, overridden by the flags given."""
    body = load_file(file)
    body.update({k: v for k, v in flags.items() if v is not None})
    if params:
        body["params"] = [{name: scalar(value) for name, value in _pairs(params, "--param")}]
    if matrix:
        body["param_matrix"] = {
            name: [scalar(v) for v in value.split(",")] for name, value in _pairs(matrix, "--matrix")
        }
    return body


@schedules_app.command("create")
def create_schedule(
    file: FileOpt = None,
    name: Annotated[str | None, typer.Option()] = None,
    connection: Annotated[int | None, typer.Option("--connection", help="Connection id.")] = None,
    script: Annotated[str | None, typer.Option("--script", help="Script id.")] = None,
    cron: Annotated[str | None, typer.Option(help="5 fields, or 6 with seconds first.")] = None,
    interval: Annotated[int | None, typer.Option("--interval", help="Seconds between fires.")] = None,
    at: Annotated[str | None, typer.Option(help="One instant (RFC 3339).")] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone of the cron.")] = None,
    start: Annotated[str | None, typer.Option(help="No fire before (RFC 3339).")] = None,
    end: Annotated[str | None, typer.Option(help="No fire after (RFC 3339).")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it paused.")] = False,
    param: ParamOpt = None,
    matrix: MatrixOpt = None,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Create a schedule from flags and/or a file (flags win)."""
    body = build_body(file, param, matrix, name=name, connection_id=connection, script_id=script, cron=cron,
                      interval_s=interval, at=at, timezone=timezone, start_at=start, end_at=end,
                      enabled=False if disabled else None)  # fmt: skip
    with api(api_url, api_token) as client:
        output.print_record(client.post("/schedules", body), as_json=as_json)


@schedules_app.command("update")
def update_schedule(
    schedule_id: int,
    file: FileOpt = None,
    name: Annotated[str | None, typer.Option()] = None,
    cron: Annotated[str | None, typer.Option()] = None,
    interval: Annotated[int | None, typer.Option("--interval")] = None,
    timezone: Annotated[str | None, typer.Option()] = None,
    param: ParamOpt = None,
    matrix: MatrixOpt = None,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Change the given fields of a schedule."""
    body = build_body(file, param, matrix, name=name, cron=cron, interval_s=interval, timezone=timezone)
    with api(api_url, api_token) as client:
        output.print_record(client.patch(f"/schedules/{schedule_id}", body), as_json=as_json)


@schedules_app.command("list")
def list_schedules(
    connection: Annotated[int | None, typer.Option("--connection")] = None,
    enabled: Annotated[bool | None, typer.Option("--enabled/--disabled", show_default=False)] = None,
    name: Annotated[str | None, typer.Option(help="Part of the name.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """List schedules."""
    with api(api_url, api_token) as client:
        page = client.get(
            "/schedules", connection_id=connection, enabled=enabled, name=name, limit=limit, offset=offset
        )
    output.print_rows(page["items"], as_json=as_json, columns=COLUMNS)


@schedules_app.command("get")
def get_schedule(
    schedule_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Show one schedule."""
    with api(api_url, api_token) as client:
        output.print_record(client.get(f"/schedules/{schedule_id}"), as_json=as_json)


@schedules_app.command("delete")
def delete_schedule(schedule_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None) -> None:
    """Delete a schedule with its runs."""
    with api(api_url, api_token) as client:
        client.delete(f"/schedules/{schedule_id}")
    typer.echo(f"deleted schedule {schedule_id}")


def _action(schedule_id: int, action: str, api_url: str | None, api_token: str | None, as_json: bool) -> None:
    with api(api_url, api_token) as client:
        output.print_record(client.post(f"/schedules/{schedule_id}/{action}"), as_json=as_json)


@schedules_app.command("pause")
def pause(
    schedule_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Pause a schedule (no fires until resumed)."""
    _action(schedule_id, "pause", api_url, api_token, as_json)


@schedules_app.command("resume")
def resume(
    schedule_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Resume a schedule (next fire from now)."""
    _action(schedule_id, "resume", api_url, api_token, as_json)


@schedules_app.command("trigger")
def trigger(
    schedule_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Run a schedule now (a manual run)."""
    with api(api_url, api_token) as client:
        result = client.post(f"/schedules/{schedule_id}/trigger")
    output.print_record(
        result if as_json else {**result["run"], "enqueued": result["enqueued"]}, as_json=as_json
    )


@schedules_app.command("backfill")
def backfill(
    schedule_id: int,
    start: Annotated[str, typer.Option(help="Range start, exclusive (RFC 3339).")],
    end: Annotated[str, typer.Option(help="Range end, inclusive (RFC 3339).")],
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """One backfill run per fire time in (START, END], capped by the server."""
    with api(api_url, api_token) as client:
        result = client.post(f"/schedules/{schedule_id}/backfill", {"start": start, "end": end})
    if as_json:
        output.print_json(result)
        return
    typer.echo(f"created {result['created']} runs ({result['existing']} existed already)")
    if result["capped"]:
        typer.echo(f"capped at {result['limit']} runs: backfill the rest with a later --start")


@schedules_app.command("next")
def next_fires(
    schedule_id: int,
    count: Annotated[int, typer.Option(min=1, max=100)] = 5,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """The next fire times, in UTC and in the schedule's zone."""
    with api(api_url, api_token) as client:
        result = client.get(f"/schedules/{schedule_id}/next", count=count)
    if as_json:
        output.print_json(result)
    else:
        output.print_table(result["fires"], ["utc", "local"])


def register(app: typer.Typer) -> None:
    app.add_typer(schedules_app, name="schedules")
