"""Invoke streaming over loopback: the client's checks (error tail, final blank line) against plain httpx.

Figures: throughput of ``ScriptsClient.invoke(...).iter_bytes()`` as a ratio of plain httpx streaming of
the same body from the same server (target: at least 0.8), and the client's peak Python memory while
streaming a 10x larger body, as a ratio of the small body's peak (target: at most 1.5: the body is
never held whole).
"""

from __future__ import annotations

import socketserver
import threading
import time
import tracemalloc
from collections.abc import Callable

import httpx

from app.influx import ScriptsClient

ROW = b",_result,0,2021-09-28T16:13:05Z,73,temperature,airSensors,TLM0201\r\n"
CHUNK = ROW * (64 * 1024 // len(ROW))
HEADER = b",result,table,_time,_value,_field,_measurement,sensor_id\r\n"
THROUGHPUT_BYTES = 200 * 1024 * 1024
TOKEN = "bench-token"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        line = self.rfile.readline().decode()
        length = 0
        while (header := self.rfile.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        self.rfile.read(length)
        total = int(line.split()[1].split("/")[4])  # /api/v2/scripts/<bytes>/invoke
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n")
        body_chunks = [HEADER] + [CHUNK] * (total // len(CHUNK)) + [b"\r\n"]
        for chunk in body_chunks:
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


def _plain(url: str, total: int) -> int:
    received = 0
    with httpx.Client(timeout=60) as http, http.stream("POST", f"{url}/api/v2/scripts/{total}/invoke") as r:
        for chunk in r.iter_bytes():
            received += len(chunk)
    return received


def _client(url: str, total: int) -> int:
    received = 0
    with ScriptsClient(url, TOKEN, timeout=60) as client, client.invoke(str(total)) as result:
        for chunk in result.iter_bytes():
            received += len(chunk)
    return received


def _best_seconds(
    runs: list[Callable[[str, int], int]], url: str, total: int, repeats: int = 5
) -> list[float]:
    """The best time of each run, taking turns (the machine is shared: turns spread the noise)."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            started = time.perf_counter()
            run(url, total)
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def _peak_bytes(url: str, total: int) -> int:
    tracemalloc.start()
    try:
        _client(url, total)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert _client(url, len(CHUNK)) == _plain(url, len(CHUNK))
        plain, ours = _best_seconds([_plain, _client], url, THROUGHPUT_BYTES)
        mb = THROUGHPUT_BYTES / 1e6
        ratio = plain / ours
        print(f"plain httpx stream:    {mb / plain:8.0f} MB/s ({mb:.0f} MB)")
        print(f"ScriptsClient.invoke:  {mb / ours:8.0f} MB/s")
        print(f"throughput ratio:      {ratio:8.2f}  (target >= 0.80) {'OK' if ratio >= 0.8 else 'MISSED'}")

        small, large = 8 * 1024 * 1024, 80 * 1024 * 1024
        peak_small, peak_large = _peak_bytes(url, small), _peak_bytes(url, large)
        grow = peak_large / peak_small
        print(f"peak memory, 8 MB body:  {peak_small / 1024:8.0f} KiB")
        print(f"peak memory, 80 MB body: {peak_large / 1024:8.0f} KiB")
        print(f"peak memory ratio:     {grow:8.2f}  (target <= 1.50) {'OK' if grow <= 1.5 else 'MISSED'}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


if __name__ == "__main__":
    main()
