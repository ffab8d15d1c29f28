"""The client over real sockets: a raw HTTP server on a free port that can cut, stall or stream bodies.

These exercise what a mock transport cannot: h11 noticing a short Content-Length, a close-delimited
body that simply stops, a read timeout, a refused connection, and a large body arriving in pieces.
"""

from __future__ import annotations

import os
import socketserver
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.influx import ScriptsClient
from app.influx.errors import InvokeTimeoutError, ScriptRuntimeError, TransportError, TruncatedBodyError
from tests.influx.fakes import CSV_BODY, CSV_HEADER, CSV_ROWS, TOKEN
from tests.support.services import free_port, scriptcron_cmd

pytestmark = pytest.mark.integration

BIG_ROWS = 100_000
BIG_ROW = b",_result,0,2021-09-28T16:13:05Z,73,temperature,airSensors,TLM0201\r\n"


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request_line = self.rfile.readline().decode()
        length = 0
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        self.rfile.read(length)
        script_id = request_line.split()[1].split("/")[4]
        getattr(self, f"_answer_{script_id}")()

    def _head(self, extra: str) -> None:
        self.wfile.write(f"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\n{extra}\r\n".encode())

    def _answer_ok(self) -> None:
        self._head(f"Content-Length: {len(CSV_BODY)}\r\n")
        self.wfile.write(CSV_BODY)

    def _answer_short(self) -> None:  # promises more than it sends, then closes
        self._head(f"Content-Length: {len(CSV_BODY) + 100}\r\n")
        self.wfile.write(CSV_BODY)

    def _answer_stops(self) -> None:  # close-delimited body that stops after a complete row
        self._head("Connection: close\r\n")
        self.wfile.write(CSV_HEADER + CSV_ROWS[0])

    def _answer_tail(self) -> None:
        self._head("Transfer-Encoding: chunked\r\n")
        self.wfile.write(_chunk(CSV_HEADER + CSV_ROWS[0]))
        self.wfile.flush()
        self.wfile.write(_chunk(b"\r\n,error,reference\r\n,out of memory,\r\n\r\n") + _chunk(b""))

    def _answer_stall(self) -> None:
        self._head("Transfer-Encoding: chunked\r\n")
        self.wfile.write(_chunk(CSV_HEADER))
        self.wfile.flush()
        time.sleep(2)

    def _answer_big(self) -> None:
        self._head("Transfer-Encoding: chunked\r\n")
        self.wfile.write(_chunk(CSV_HEADER))
        for _ in range(BIG_ROWS // 1000):
            self.wfile.write(_chunk(BIG_ROW * 1000))
        self.wfile.write(_chunk(b"\r\n") + _chunk(b""))


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _read(url: str, script_id: str, timeout: float | None = None) -> bytes:
    out = bytearray()
    with ScriptsClient(url, TOKEN) as client, client.invoke(script_id, timeout=timeout) as result:
        for chunk in result.iter_bytes():
            out += chunk
    return bytes(out)


def test_a_complete_body_arrives_whole(server_url: str) -> None:
    assert _read(server_url, "ok") == CSV_BODY


def test_a_body_shorter_than_its_content_length_is_truncated(server_url: str) -> None:
    with pytest.raises(TruncatedBodyError):
        _read(server_url, "short")


def test_a_close_delimited_body_that_stops_early_is_truncated(server_url: str) -> None:
    with pytest.raises(TruncatedBodyError, match="final blank line"):
        _read(server_url, "stops")


def test_an_error_table_in_a_chunked_body_raises(server_url: str) -> None:
    with pytest.raises(ScriptRuntimeError, match="out of memory"):
        _read(server_url, "tail")


def test_a_stalled_body_times_out(server_url: str) -> None:
    with pytest.raises(InvokeTimeoutError):
        _read(server_url, "stall", timeout=0.3)


def test_a_large_body_streams_in_pieces_never_whole(server_url: str) -> None:
    largest = total = pieces = 0
    with ScriptsClient(server_url, TOKEN) as client, client.invoke("big") as result:
        for chunk in result.iter_bytes():
            pieces += 1
            total += len(chunk)
            largest = max(largest, len(chunk))
    assert total == len(CSV_HEADER) + BIG_ROWS * len(BIG_ROW) + 2
    assert pieces > 10
    assert largest <= 256 * 1024 < total


def test_the_cli_streams_a_real_invoke_to_a_file(server_url: str, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    env = {**os.environ, "INFLUX_HOST": server_url, "INFLUX_TOKEN": TOKEN}
    done = subprocess.run(
        scriptcron_cmd("scripts", "invoke", "ok", "--output", str(target)),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == CSV_BODY


def test_the_cli_exits_1_and_leaves_no_file_when_the_body_is_cut(server_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "INFLUX_HOST": server_url, "INFLUX_TOKEN": TOKEN}
    done = subprocess.run(
        scriptcron_cmd("scripts", "invoke", "stops", "--output", str(tmp_path / "out.csv")),
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.decode().startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_connection_is_a_transport_error() -> None:
    with pytest.raises(TransportError), ScriptsClient(f"http://127.0.0.1:{free_port()}", TOKEN) as client:
        client.list()
