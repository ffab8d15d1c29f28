"""Fixtures of the delivery tests: an S3 server (moto's server mode on a free port), S3 settings."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from app.settings import Settings, override_settings
from tests.support.services import free_port, unavailable, wait_for_port


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's S3 server in a thread of this process, on a free port (real HTTP, not the in-process mock)."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"moto[server] not installed: {exc}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_settings(settings: Settings, moto_url: str) -> Iterator[Settings]:
    """The test settings plus the moto server as the S3 endpoint, with static test credentials."""
    values: dict[str, Any] = settings.model_dump()
    values.update(
        s3_endpoint_url=moto_url,
        s3_region="us-east-1",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    with override_settings(**values) as value:
        yield value


@pytest.fixture(scope="session")
def s3(moto_url: str) -> Any:
    """One S3 client on the moto server for the session (creating clients is slow)."""
    from app.settings import load_settings
    from worker.results.s3client import make_s3_client

    return make_s3_client(
        settings=load_settings(
            s3_endpoint_url=moto_url,
            s3_region="us-east-1",
            s3_access_key_id="testing",
            s3_secret_access_key="testing",
        )
    )


@pytest.fixture
def bucket(s3: Any, s3_settings: Settings) -> str:
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A webhook receiver on a free port that verifies signatures with the standardwebhooks package."""
    from tests.delivery.support import Receiver

    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def store(settings: Settings) -> Any:
    from worker.results import get_result_store

    return get_result_store(settings.result_store_url)
