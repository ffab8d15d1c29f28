"""``scriptcron worker``: options become the Celery worker's arguments; bad queues are refused."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli.main import _register, app
from app.cli.worker import ALL_QUEUES, Pool, worker_argv


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    _register()
    return CliRunner()


def test_the_default_worker_consumes_every_queue_with_prefork() -> None:
    argv = worker_argv(
        concurrency=None, queues=list(ALL_QUEUES), pool=Pool.PREFORK, loglevel="INFO", hostname=None
    )
    assert argv == ["worker", "--pool", "prefork", "--loglevel", "INFO", "-Q", ",".join(ALL_QUEUES)]


def test_concurrency_pool_and_name_are_passed_on() -> None:
    argv = worker_argv(
        concurrency=8, queues=["scriptcron.invoke"], pool=Pool.THREADS, loglevel="DEBUG", hostname="w1@h"
    )
    assert argv[-4:] == ["--concurrency", "8", "--hostname", "w1@h"]
    assert argv[1:3] == ["--pool", "threads"]


def test_the_worker_starts_celery_with_the_chosen_queues(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("worker.celery_app.celery_app.worker_main", calls.append)
    result = runner.invoke(app, ["worker", "-c", "3", "--queues", "scriptcron.invoke,scriptcron.deliver"])
    assert result.exit_code == 0, result.output
    (argv,) = calls
    assert argv[argv.index("-Q") + 1] == "scriptcron.invoke,scriptcron.deliver"
    assert argv[argv.index("--concurrency") + 1] == "3"


def test_an_unknown_queue_is_refused_naming_the_option(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr("worker.celery_app.celery_app.worker_main", calls.append)
    result = runner.invoke(app, ["worker", "--queues", "nope"])
    assert result.exit_code == 2
    assert "--queues" in result.output
    assert "nope" in result.output
    assert calls == []
