"""``scriptcron connections ...``: InfluxDB connections through the API."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from app.cli import output
from app.cli.apiclient import ApiTokenOpt, ApiUrlOpt, JsonOpt, api

connections_app = typer.Typer(name="connections", help="InfluxDB connections.", no_args_is_help=True)
COLUMNS = ("id", "name", "url", "org", "token_masked", "rate_per_s", "burst", "max_concurrency", "timeout_s")


def _fields(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@connections_app.command("list")
def list_connections(
    api_url: ApiUrlOpt = None,
    api_token: ApiTokenOpt = None,
    as_json: JsonOpt = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """List connections."""
    with api(api_url, api_token) as client:
        page = client.get("/connections", limit=limit, offset=offset)
    output.print_rows(page["items"], as_json=as_json, columns=COLUMNS)


@connections_app.command("get")
def get_connection(
    connection_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Show one connection (the token masked)."""
    with api(api_url, api_token) as client:
        output.print_record(client.get(f"/connections/{connection_id}"), as_json=as_json)


@connections_app.command("create")
def create_connection(
    name: Annotated[str, typer.Option(help="Unique name.")],
    url: Annotated[str, typer.Option(help="InfluxDB base URL.")],
    token: Annotated[
        str, typer.Option(prompt=True, hide_input=True, envvar="INFLUX_TOKEN", help="InfluxDB token.")
    ],
    org: Annotated[str, typer.Option()] = "",
    rate_per_s: Annotated[float | None, typer.Option(help="Invokes per second.")] = None,
    burst: Annotated[int | None, typer.Option()] = None,
    max_concurrency: Annotated[int | None, typer.Option()] = None,
    timeout_s: Annotated[float | None, typer.Option()] = None,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Create a connection."""
    body = _fields(name=name, url=url, token=token, org=org, rate_per_s=rate_per_s, burst=burst,
                   max_concurrency=max_concurrency, timeout_s=timeout_s)  # fmt: skip
    with api(api_url, api_token) as client:
        output.print_record(client.post("/connections", body), as_json=as_json)


@connections_app.command("update")
def update_connection(
    connection_id: int,
    name: Annotated[str | None, typer.Option()] = None,
    url: Annotated[str | None, typer.Option()] = None,
    token: Annotated[str | None, typer.Option(help="A new token.")] = None,
    org: Annotated[str | None, typer.Option()] = None,
    rate_per_s: Annotated[float | None, typer.Option()] = None,
    burst: Annotated[int | None, typer.Option()] = None,
    max_concurrency: Annotated[int | None, typer.Option()] = None,
    timeout_s: Annotated[float | None, typer.Option()] = None,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """Change the given fields of a connection."""
    body = _fields(name=name, url=url, token=token, org=org, rate_per_s=rate_per_s, burst=burst,
                   max_concurrency=max_concurrency, timeout_s=timeout_s)  # fmt: skip
    with api(api_url, api_token) as client:
        output.print_record(client.patch(f"/connections/{connection_id}", body), as_json=as_json)


@connections_app.command("delete")
def delete_connection(connection_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None) -> None:
    """Delete a connection (refused while schedules use it)."""
    with api(api_url, api_token) as client:
        client.delete(f"/connections/{connection_id}")
    typer.echo(f"deleted connection {connection_id}")


@connections_app.command("test")
def check_connection(
    connection_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Ping the server and list its scripts; exit 1 when a step failed."""
    with api(api_url, api_token) as client:
        result = client.post(f"/connections/{connection_id}/test")
    if as_json:
        output.print_json(result)
    else:
        for step in ("ping", "list_scripts"):
            check = result[step]
            typer.echo(f"{step}: {'ok' if check['ok'] else 'FAILED: ' + str(check.get('error'))}")
    if not result["ok"]:
        raise typer.Exit(output.EXIT_FAILURE)


def register(app: typer.Typer) -> None:
    app.add_typer(connections_app, name="connections")
