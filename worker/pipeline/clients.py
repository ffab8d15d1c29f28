"""Per-process clients: one pooled ``httpx.Client`` and one Redis client per worker process.

Created lazily and reset after a fork (``worker_process_init``), so no process shares a socket.
"""

from __future__ import annotations

import threading

import httpx
import redis

from app import constants
from app.settings import get_settings

HTTP_MAX_CONNECTIONS = 100

_lock = threading.Lock()
_http: httpx.Client | None = None
_redis: dict[str, redis.Redis] = {}


def http_client() -> httpx.Client:
    """The process's pooled HTTP client (the scripts client borrows it; timeouts are set per call)."""
    global _http
    with _lock:
        if _http is None:
            _http = httpx.Client(
                limits=httpx.Limits(
                    max_connections=HTTP_MAX_CONNECTIONS, max_keepalive_connections=HTTP_MAX_CONNECTIONS
                ),
                timeout=httpx.Timeout(
                    constants.INFLUX_READ_TIMEOUT_S, connect=constants.INFLUX_CONNECT_TIMEOUT_S
                ),
            )
        return _http


def redis_client() -> redis.Redis:
    """The process's Redis client for the rate limiter (settings.effective_redis_url)."""
    url = get_settings().effective_redis_url
    with _lock:
        client = _redis.get(url)
        if client is None:
            # One connection, not a pool: the limiter makes one call at a time per process (a lock
            # guards it under the threads pool), and a pool's checkout per call costs a third of it.
            client = _redis[url] = redis.Redis.from_url(
                url,
                single_connection_client=True,
                socket_timeout=constants.REDIS_SOCKET_TIMEOUT_S,
                socket_connect_timeout=constants.REDIS_SOCKET_TIMEOUT_S,
                health_check_interval=30,
            )
        return client


def reset() -> None:
    """Forget every client (after a fork: the parent's sockets must not be reused)."""
    global _http
    with _lock:
        _http = None
        _redis.clear()
