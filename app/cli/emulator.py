"""``scriptcron emulator``: a local InfluxDB invocable-scripts server (see docs/emulator.md)."""

from __future__ import annotations

import typer


def emulator(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8086, help="Port to listen on."),
    token: list[str] = typer.Option(
        [], "--token", help="TOKEN[:ORG], repeatable. Default: emulator-token for org 'emulator'."
    ),
    db: str = typer.Option(
        "emulator-scripts.db", help="SQLite file holding the scripts; ':memory:' keeps nothing."
    ),
    sample_data: bool = typer.Option(
        False, "--sample-data", help="Create bucket air_sensor with 30 days of generated air-sensor data."
    ),
    faults: str = typer.Option(
        "", help="Start-up faults, e.g. 'latency_ms=50,rate429=0.2,seed=1' (same keys as X-Emulator-Faults)."
    ),
    fast: bool = typer.Option(
        False, "--fast", help="Invoke answers a constant small CSV (throughput tests)."
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Serve /ping, the seven /api/v2/scripts calls, write and buckets, running real Flux on invoke."""
    from app.emulator.errors import EmulatorError
    from app.emulator.faults import Faults, parse_header
    from app.emulator.runner import build_state, parse_tokens, serve

    try:
        start_faults = Faults().merged(parse_header(faults))
        if fast:
            start_faults = start_faults.merged({"fast": True})
        tokens = parse_tokens(token)
    except (EmulatorError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    state = build_state(tokens, db=db, sample_data=sample_data, faults=start_faults)
    orgs = ", ".join(sorted({org.name for org in tokens.values()}))
    typer.echo(f"scriptcron emulator on http://{host}:{port} (orgs: {orgs}; scripts in {db})", err=True)
    serve(state, host, port, log_level)


def register(app: typer.Typer) -> None:
    app.command(name="emulator")(emulator)
