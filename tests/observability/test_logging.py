"""Logging: ids from log_context on every line, JSON on request, no secret in any line."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from app.logging import configure_logging, current_context, log_context, redact


@pytest.fixture
def capture() -> Iterator[tuple[io.StringIO, SimpleNamespace]]:
    """Configure logging into a buffer; restore the root logger afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    options = SimpleNamespace(log_level="DEBUG", log_json=False)
    yield stream, options
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def configure(capture: tuple[io.StringIO, SimpleNamespace], **options: object) -> io.StringIO:
    stream, settings = capture
    for key, value in options.items():
        setattr(settings, key, value)
    configure_logging(settings, stream=stream)
    return stream


def test_ids_bound_by_log_context_appear_on_every_line_inside(capture) -> None:
    stream = configure(capture)
    log = logging.getLogger("scriptcron.test")
    with log_context(run_id=12, invocation_id=345):
        log.info("first")
        logging.getLogger("other.library").warning("second")
    log.info("outside")
    first, second, outside = stream.getvalue().splitlines()
    assert "run_id=12 invocation_id=345" in first
    assert "run_id=12 invocation_id=345" in second
    assert "run_id" not in outside


def test_nested_log_context_adds_ids_and_restores_the_outer_ones() -> None:
    with log_context(run_id=1):
        with log_context(invocation_id=2):
            assert current_context() == {"run_id": 1, "invocation_id": 2}
        assert current_context() == {"run_id": 1}
    assert current_context() == {}


def test_log_context_does_not_leak_into_another_thread() -> None:
    seen: list[dict[str, object]] = []
    with log_context(run_id=9):
        thread = threading.Thread(target=lambda: seen.append(current_context()))
        thread.start()
        thread.join()
    assert seen == [{}]


def test_json_lines_carry_level_logger_message_and_ids(capture) -> None:
    stream = configure(capture, log_json=True)
    with log_context(run_id=7):
        logging.getLogger("scriptcron.beat").info("fired %d runs", 3)
    record = json.loads(stream.getvalue())
    assert record["level"] == "INFO"
    assert record["logger"] == "scriptcron.beat"
    assert record["message"] == "fired 3 runs"
    assert record["run_id"] == 7
    assert record["ts"].endswith("Z")


def test_level_from_settings_drops_lower_records(capture) -> None:
    stream = configure(capture, log_level="WARNING")
    logging.getLogger("scriptcron.test").info("quiet")
    logging.getLogger("scriptcron.test").warning("loud")
    assert stream.getvalue().count("\n") == 1
    assert "loud" in stream.getvalue()


def test_configuring_twice_keeps_one_handler(capture) -> None:
    stream = configure(capture)
    configure(capture)
    logging.getLogger("scriptcron.test").info("once")
    assert stream.getvalue().count("once") == 1


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Token influx-secret-token", "influx-secret-token"),
        ("headers={'Authorization': 'Bearer abcdef123456', 'Accept': 'text/csv'}", "abcdef123456"),
        ("GET /api/v2/scripts?token=querytoken123&org=o", "querytoken123"),
        ("webhook secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("broker redis://:redispass@redis:6379/0", "redispass"),
        ("db postgresql+psycopg://scriptcron:pgpass@db/scriptcron", "pgpass"),
        ('{"token": "jsontoken99", "name": "x"}', "jsontoken99"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG", "wJalrXUtnFEMI/K7MDENG"),
        ("key AKIAIOSFODNN7EXAMPLE", "IOSFODNN7EXAMPLE"),
        ("password=hunter2", "hunter2"),
    ],
)
def test_redact_removes_the_secret(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "***" in redact(text)


def test_redact_keeps_ordinary_text() -> None:
    text = "invoke of script 0abc took 1.2 s, token bucket refilled, http://emulator:8086/api/v2"
    assert redact(text) == text


def test_secrets_in_arguments_and_tracebacks_never_reach_the_output(capture) -> None:
    stream = configure(capture, log_json=True)
    log = logging.getLogger("scriptcron.test")
    log.info("calling with %s", {"Authorization": "Token argsecret123"})
    try:
        raise RuntimeError("connect to postgresql://u:tracepass@db/x failed")
    except RuntimeError:
        log.exception("boom")
    output = stream.getvalue()
    assert "argsecret123" not in output
    assert "tracepass" not in output
    assert output.count("***") >= 2


@pytest.fixture
def access_logger() -> Iterator[logging.Logger]:
    """uvicorn's access logger as uvicorn leaves it (its own handler, no propagation); restored after."""
    access = logging.getLogger("uvicorn.access")
    saved = (list(access.handlers), access.propagate, access.level, access.disabled)
    access.handlers[:] = [logging.StreamHandler(io.StringIO())]
    access.propagate = False
    access.setLevel(logging.INFO)
    access.disabled = False
    yield access
    access.handlers[:], access.propagate, access.level, access.disabled = saved


def test_uvicorn_loggers_are_routed_through_the_scriptcron_handler(capture, access_logger) -> None:
    stream = configure(capture, log_json=True)
    access_logger.info('127.0.0.1 - "GET /api/v1/runs?token=%s HTTP/1.1" 200', "leaky123")
    record = json.loads(stream.getvalue())
    assert record["logger"] == "uvicorn.access"
    assert "leaky123" not in record["message"]
    assert access_logger.handlers == []
