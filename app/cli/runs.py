"""``scriptcron runs ...``: list, show, watch (a live progress bar), retry failed, fetch a result."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.cli import output
from app.cli.apiclient import ApiClient, ApiTokenOpt, ApiUrlOpt, JsonOpt, api
from app.models import RunStatus

runs_app = typer.Typer(name="runs", help="Runs and their invocations.", no_args_is_help=True)
COLUMNS = (
    "id",
    "schedule_id",
    "kind",
    "status",
    "scheduled_for",
    "total",
    "succeeded",
    "failed",
    "duration_s",
)
INVOCATION_COLUMNS = ("id", "index", "status", "attempts", "last_http_status", "params", "error")
TERMINAL = {status.value for status in RunStatus.TERMINAL}


@runs_app.command("list")
def list_runs(
    schedule: Annotated[int | None, typer.Option("--schedule", help="Schedule id.")] = None,
    status: Annotated[str | None, typer.Option(help="Run status.")] = None,
    since: Annotated[str | None, typer.Option(help="Scheduled at or after (RFC 3339).")] = None,
    until: Annotated[str | None, typer.Option(help="Scheduled before (RFC 3339).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False,
) -> None:  # fmt: skip
    """List runs, newest first."""
    with api(api_url, api_token) as client:
        page = client.get(
            "/runs", schedule_id=schedule, status=status, since=since, until=until, limit=limit, offset=offset
        )
    output.print_rows(page["items"], as_json=as_json, columns=COLUMNS)


@runs_app.command("show")
def show_run(
    run_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """A run (counts by status, window, timings) and its invocations."""
    with api(api_url, api_token) as client:
        run = client.get(f"/runs/{run_id}")
        invocations = client.get(f"/runs/{run_id}/invocations", limit=500)
    if as_json:
        output.print_json({**run, "invocations": invocations["items"]})
        return
    output.print_record(run)
    typer.echo("")
    output.print_table(invocations["items"], INVOCATION_COLUMNS)
    if invocations["total"] > len(invocations["items"]):
        typer.echo(f"... {invocations['total'] - len(invocations['items'])} more (use the API to page)")


def watch_run(client: ApiClient, run_id: int, interval_s: float, console: Console) -> dict[str, Any]:
    """Poll the run, drawing a progress bar, until it ends; return its last state."""
    run = client.get(f"/runs/{run_id}")
    columns = (
        TextColumn("run {task.fields[run_id]} [bold]{task.fields[status]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(
            "run", total=run["total"] or None, run_id=run_id, status=run["status"], failed=0
        )
        while True:
            done = run["succeeded"] + run["failed"]
            progress.update(
                task, total=run["total"] or None, completed=done, status=run["status"], failed=run["failed"]
            )
            if run["status"] in TERMINAL:
                if not run["total"]:
                    progress.update(task, total=1, completed=1)
                break
            time.sleep(interval_s)
            run = client.get(f"/runs/{run_id}")
    return dict(run)


@runs_app.command("watch")
def watch(
    run_id: int,
    interval: Annotated[float, typer.Option(min=0.01, help="Seconds between polls.")] = 1.0,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None,
) -> None:  # fmt: skip
    """Show a live progress bar until the run ends; exit 1 unless it succeeded (or was skipped)."""
    with api(api_url, api_token) as client:
        run = watch_run(client, run_id, interval, Console(file=sys.stdout))
    counts = f"{run['succeeded']} succeeded, {run['failed']} failed of {run['total']}"
    typer.echo(f"run {run_id} {run['status']}: {counts}")
    if run["status"] not in {RunStatus.SUCCEEDED.value, RunStatus.SKIPPED.value}:
        raise typer.Exit(output.EXIT_FAILURE)


@runs_app.command("retry-failed")
def retry_failed(
    run_id: int, api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None, as_json: JsonOpt = False
) -> None:
    """Run a run's failed invocations again."""
    with api(api_url, api_token) as client:
        result = client.post(f"/runs/{run_id}/retry-failed")
    if as_json:
        output.print_json(result)
    else:
        typer.echo(f"retrying {result['retried']} failed invocations of run {run_id}")


@runs_app.command("result")
def result(
    invocation_id: int,
    out: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file (not stdout).")] = None,
    api_url: ApiUrlOpt = None, api_token: ApiTokenOpt = None,
) -> None:  # fmt: skip
    """Fetch an invocation's stored CSV."""
    with api(api_url, api_token) as client:
        response = client.request("GET", f"/invocations/{invocation_id}/result")
    if out is None:
        sys.stdout.buffer.write(response.content)
        sys.stdout.flush()
    else:
        out.write_bytes(response.content)
        typer.echo(f"wrote {len(response.content)} bytes to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
