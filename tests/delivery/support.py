"""Helpers for the delivery tests: database rows, a webhook receiver on a real port, a driven clock."""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, SQLModel, select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.crypto import encrypt_secret
from app.db import get_engine
from app.models import (
    Connection,
    Delivery,
    Invocation,
    InvocationStatus,
    Run,
    RunStatus,
    Schedule,
)
from tests.support.services import free_port, wait_for_port

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks test-vector secret
CSV = (
    b"result,table,_time,value\r\n"
    b",_result,0,2026-11-26T10:00:00Z,1.5\r\n"
    b",_result,0,2026-11-26T10:01:00Z,2.5\r\n"
)


class Clock:
    """A clock the test moves; starts at the wall clock (signature timestamps must look recent)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance_to(self, when: datetime) -> None:
        self.now = max(self.now, when)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def create_tables() -> None:
    SQLModel.metadata.create_all(get_engine())


@dataclass
class Seeded:
    schedule_id: int
    run_id: int
    invocation_id: int
    location: str


def seed(
    store: Any,
    tmp_path: Path,
    destinations: list[dict[str, Any]],
    *,
    data: bytes = CSV,
    params: dict[str, Any] | None = None,
    name: str = "daily",
) -> Seeded:
    """A schedule with ``destinations``, a finished run and one SUCCEEDED invocation stored in ``store``."""
    create_tables()
    spool = tmp_path / f"spool-{name}.csv"
    spool.write_bytes(data)
    when = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
    with Session(get_engine(), expire_on_commit=False) as session:
        connection = Connection(name=f"c-{name}", url="http://127.0.0.1:1", token_encrypted="x")
        session.add(connection)
        session.flush()
        schedule = Schedule(
            name=name, connection_id=connection.id, script_id="s1", interval_s=60, destinations=destinations
        )
        session.add(schedule)
        session.flush()
        run = Run(
            schedule_id=schedule.id,
            scheduled_for=when,
            status=RunStatus.SUCCEEDED,
            total=1,
            succeeded=1,
            finished_at=when + timedelta(seconds=5),
        )
        session.add(run)
        session.flush()
        invocation = Invocation(
            run_id=run.id,
            index=0,
            params=params or {"sensor": "t1"},
            params_hash="abcd1234abcd1234",
            status=InvocationStatus.SUCCEEDED,
            attempts=1,
            result_bytes=len(data),
            result_rows=data.count(b"\n") - 1,
            result_sha256="0" * 64,
            finished_at=when + timedelta(seconds=4),
        )
        session.add(invocation)
        session.flush()
        from worker.results import result_key

        location = store.put(result_key(schedule, run, invocation), spool)
        invocation.result_location = location
        session.add(invocation)
        session.commit()
        assert schedule.id is not None
        assert run.id is not None
        assert invocation.id is not None
        return Seeded(schedule.id, run.id, invocation.id, location)


def webhook(url: str, *, mode: str = "event", secret: str = SECRET) -> dict[str, Any]:
    return {"type": "webhook", "url": url, "secret_encrypted": encrypt_secret(secret), "mode": mode}


def delivery(delivery_id: int) -> Delivery:
    with Session(get_engine()) as session:
        row = session.get(Delivery, delivery_id)
        assert row is not None
        return row


def deliveries() -> list[Delivery]:
    with Session(get_engine()) as session:
        return list(session.exec(select(Delivery).order_by(Delivery.id)))  # type: ignore[arg-type]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool


@dataclass
class Receiver:
    """A webhook receiver on a real port: verifies each request with the ``standardwebhooks`` package and
    answers from ``responses`` (status, headers) in turn, then 200."""

    secret: str = SECRET
    port: int = field(default_factory=free_port)
    responses: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    _server: http.server.ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def localhost_url(self) -> str:
        return f"http://localhost:{self.port}/hook"

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers, json_parse=False)
                    verified = True
                except WebhookVerificationError:
                    verified = False
                receiver.received.append(Received(self.path, headers, body, verified))
                status, extra = receiver.responses.pop(0) if receiver.responses else (200, {})
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def do_GET(self) -> None:
                receiver.received.append(Received(self.path, dict(self.headers.items()), b"", False))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler

    def start(self) -> Receiver:
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join()
            self._server = None

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.received]


def seed_pending(
    influx_url: str,
    token: str,
    script_id: str,
    destinations: list[dict[str, Any]],
    *,
    name: str = "bench",
    timeout_s: float = 600.0,
) -> tuple[int, int]:
    """A schedule on a real InfluxDB-contract server and a RUNNING run with one QUEUED invocation,
    ready for the invoke pipeline; returns (run_id, invocation_id)."""
    create_tables()
    with Session(get_engine(), expire_on_commit=False) as session:
        connection = Connection(
            name=f"c-{name}", url=influx_url, token_encrypted=encrypt_secret(token), timeout_s=timeout_s
        )
        session.add(connection)
        session.flush()
        schedule = Schedule(
            name=name,
            connection_id=connection.id,
            script_id=script_id,
            interval_s=60,
            destinations=destinations,
            timeout_s=timeout_s,
            max_attempts=1,
        )
        session.add(schedule)
        session.flush()
        run = Run(
            schedule_id=schedule.id,
            scheduled_for=datetime.now(UTC).replace(microsecond=0),
            status=RunStatus.RUNNING,
            total=1,
        )
        session.add(run)
        session.flush()
        invocation = Invocation(
            run_id=run.id, index=0, params={}, params_hash="0" * 16, status=InvocationStatus.QUEUED
        )
        session.add(invocation)
        session.commit()
        assert run.id is not None
        assert invocation.id is not None
        return run.id, invocation.id
