"""A real emulator process on a free port, for integration tests.

with EmulatorServer(tokens={"tok": "org1"}, sample_data=False) as emu:
    emu.url, emu.token
    script_id = emu.create_script("name", 'from(bucket: "b") |> range(start: -1h)')
    emu.set_faults({"rate429": 0.5, "seed": 1})
    emu.write("b", "m,t=a v=1 1700000000000000000")
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.support.services import ServerProcess, free_port, scriptcron_cmd

# Building an SSL context costs ~100 ms; every client of the emulator (plain HTTP) shares this one.
_SSL_CONTEXT = ssl.create_default_context()


class EmulatorServer:
    """The emulator as a child process (``python -m app.emulator``, the same command as
    ``scriptcron emulator``; ``via_cli=True`` runs the real CLI). The first token is :attr:`token`."""

    def __init__(
        self,
        tokens: Mapping[str, str] | None = None,
        *,
        sample_data: bool = False,
        db: str | Path = ":memory:",
        extra_args: Sequence[str] = (),
        log_path: Path | None = None,
        port: int | None = None,
        via_cli: bool = False,
    ) -> None:
        self.tokens = dict(tokens or {"emulator-token": "emulator"})
        self.sample_data = sample_data
        self.db = str(db)
        self.extra_args = list(extra_args)
        self.log_path = log_path
        self.port = port or free_port()
        self.via_cli = via_cli  # run through `scriptcron emulator` (slower: loads every CLI area)
        self._process: ServerProcess | None = None
        self._clients: dict[str, httpx.Client] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def token(self) -> str:
        return next(iter(self.tokens))

    @property
    def org(self) -> str:
        return self.tokens[self.token]

    def args(self) -> list[str]:
        args = ["emulator", "--host", "127.0.0.1", "--port", str(self.port), "--db", self.db]
        for token, org in self.tokens.items():
            args += ["--token", f"{token}:{org}"]
        if self.sample_data:
            args.append("--sample-data")
        if self.via_cli:
            return scriptcron_cmd(*args, *self.extra_args)
        return [sys.executable, "-m", "app.emulator", *args[1:], *self.extra_args]

    def start(self) -> EmulatorServer:
        self._process = ServerProcess(self.args(), self.port, log_path=self.log_path).start(timeout_s=60)
        return self

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._process is not None:
            self._process.stop()
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Token {token or self.token}"}

    def http(self, token: str | None = None, timeout: float = 30.0) -> httpx.Client:
        """An httpx client on the emulator, authorized with ``token`` (default: the first)."""
        return httpx.Client(
            base_url=self.url, headers=self.headers(token), timeout=timeout, verify=_SSL_CONTEXT
        )

    def _client(self, token: str | None = None) -> httpx.Client:
        """A kept-alive client per token for the helpers below (closed by :meth:`stop`)."""
        key = token or self.token
        if key not in self._clients:
            self._clients[key] = self.http(key)
        return self._clients[key]

    def create_script(
        self,
        name: str,
        script: str,
        *,
        description: str = "",
        language: str = "flux",
        token: str | None = None,
    ) -> str:
        response = self._client(token).post(
            "/api/v2/scripts",
            json={"name": name, "description": description, "script": script, "language": language},
        )
        response.raise_for_status()
        script_id: str = response.json()["id"]
        return script_id

    def invoke(
        self, script_id: str, params: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> httpx.Response:
        client = self._client(kwargs.pop("token", None))
        return client.post(
            f"/api/v2/scripts/{script_id}/invoke", json={"params": dict(params or {})}, **kwargs
        )

    def set_faults(self, faults: Mapping[str, Any]) -> dict[str, Any]:
        """Replace the server-wide faults (``{}`` clears them). Returns the faults now in force."""
        response = self._client().post("/emulator/faults", json=dict(faults))
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def create_bucket(self, name: str, token: str | None = None) -> None:
        response = self._client(token).post("/api/v2/buckets", json={"name": name})
        if response.status_code != 422:
            response.raise_for_status()

    def write(self, bucket: str, lines: str, *, precision: str = "ns", token: str | None = None) -> None:
        """Write line protocol to ``bucket`` (created first when missing)."""
        self.create_bucket(bucket, token)
        response = self._client(token).post(
            "/api/v2/write", params={"bucket": bucket, "precision": precision}, content=lines
        )
        response.raise_for_status()
