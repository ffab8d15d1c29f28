"""A 1 GiB invoke result through the worker's pipeline: invoke -> result store -> S3 and -> webhook.

Servers, each its own process on a free port: the emulator (generated-bytes fault mode), moto's S3
server, and a webhook receiver that checks the Standard Webhooks signature over the streamed body.
This process plays the worker: ``run_invocation`` (invoke, spool, store, plan deliveries) and
``deliver`` for the S3 destination and the webhook in ``csv`` mode (cap raised above 1 GiB).

Figures:
- the worker's peak RSS (``ru_maxrss``, the kernel's high-water mark) over its idle RSS, measured after a
  1 MiB warm-up run (imports done, pooled clients created); target: grows by less than 100 MiB;
- throughput in MB/s of each step next to a plain copy of the same bytes through the same servers
  (plain httpx stream from the emulator to a file, plain boto3 ``upload_file``, plain httpx POST of the
  file), as a ratio (no target: reported).

``SCRIPTCRON_BENCH_DELIVERY_BYTES`` changes the size (default 1 GiB) for a quick try.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

MIB = 1024 * 1024
SIZE = int(os.environ.get("SCRIPTCRON_BENCH_DELIVERY_BYTES", str(1024 * MIB)))
WARMUP_BYTES = 1 * MIB
RSS_TARGET_MIB = 100
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BUCKET = "bench-delivery"
READ_CHUNK = MIB


def serve_receiver(port: int, log_path: str, secret: str) -> None:
    """A webhook receiver: reads each body in chunks, checks the Standard Webhooks signature
    incrementally (the body is never held), logs one JSON line per request."""
    import base64
    import http.server

    from worker.delivery.signing import secret_key

    key = secret_key(secret)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            remaining = int(self.headers.get("content-length") or 0)
            msg_id = self.headers.get("webhook-id", "")
            stamp = self.headers.get("webhook-timestamp", "")
            mac = hmac.new(key, f"{msg_id}.{stamp}.".encode(), hashlib.sha256)
            total = 0
            while remaining:
                chunk = self.rfile.read(min(READ_CHUNK, remaining))
                if not chunk:
                    break
                mac.update(chunk)
                total += len(chunk)
                remaining -= len(chunk)
            expected = "v1," + base64.b64encode(mac.digest()).decode()
            signature = self.headers.get("webhook-signature")
            verified = signature is not None and hmac.compare_digest(expected, signature)
            with open(log_path, "a") as log:
                log.write(json.dumps({"id": msg_id, "bytes": total, "verified": verified}) + "\n")
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.serve_forever()


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def peak_rss() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # KiB on Linux


@contextmanager
def sampled_peak() -> Iterator[list[int]]:
    """Also sample RSS every 10 ms (a cross-check of ru_maxrss)."""
    peak = [rss()]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.01):
            peak[0] = max(peak[0], rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        done.set()
        thread.join()


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = run()
    return time.perf_counter() - started, value


def mbps(size: int, seconds: float) -> float:
    return size / 1e6 / seconds


def pipeline(emu: Any, script_id: str, size: int, receiver_url: str, tag: str) -> dict[str, float]:
    """One result of ``size`` bytes through the worker's code; seconds per step."""
    from app.models import DestinationKind
    from tests.delivery.support import delivery, seed_pending, webhook
    from worker.delivery.pipeline import DeliveryOutcome, deliver
    from worker.pipeline import clients
    from worker.pipeline.invoke import InvokeDeps, Outcome, run_invocation
    from worker.results import get_result_store

    emu.set_faults({"generate_bytes": size})
    destinations = [
        {"type": "s3", "bucket": BUCKET, "prefix": tag},
        webhook(receiver_url, mode="csv", secret=SECRET),
    ]
    _run_id, invocation_id = seed_pending(emu.url, emu.token, script_id, destinations, name=tag)
    sent: list[int] = []
    deps = InvokeDeps(
        http=clients.http_client(),
        limiter=None,
        store=get_result_store(),
        send=lambda task, queue, ids: sent.extend(ids),
    )
    seconds: dict[str, float] = {}
    seconds["invoke"], outcome = timed(lambda: run_invocation(invocation_id, deps))
    assert outcome is Outcome.SUCCEEDED, outcome
    for delivery_id in sent:
        row = delivery(delivery_id)
        step = f"{row.kind}" if row.invocation_id else f"run-{row.kind}"
        took, result = timed(lambda delivery_id=delivery_id: deliver(delivery_id))  # type: ignore[misc]
        assert result is DeliveryOutcome.SUCCEEDED, (step, delivery(delivery_id).last_error)
        if row.invocation_id and row.kind in (DestinationKind.S3, DestinationKind.WEBHOOK):
            seconds[step] = took
    return seconds


def plain_copies(emu: Any, script_id: str, size: int, receiver_url: str, workdir: Path) -> dict[str, float]:
    """The same bytes through the same servers with plain clients; seconds per step."""
    from worker.results.s3client import make_s3_client

    path = workdir / "plain.csv"

    def invoke() -> None:
        with (
            httpx.Client(timeout=600) as http,
            http.stream(
                "POST",
                f"{emu.url}/api/v2/scripts/{script_id}/invoke",
                json={"params": {}},
                headers={"Authorization": f"Token {emu.token}"},
            ) as response,
            open(path, "wb") as out,
        ):
            for chunk in response.iter_bytes(READ_CHUNK):
                out.write(chunk)

    emu.set_faults({"generate_bytes": size})
    seconds = {"invoke": timed(invoke)[0]}
    assert path.stat().st_size == size
    client = make_s3_client()
    seconds["s3"] = timed(lambda: client.upload_file(str(path), BUCKET, "plain/plain.csv"))[0]

    def post() -> None:
        with open(path, "rb") as body:
            httpx.post(receiver_url, content=body, timeout=600).raise_for_status()

    seconds["webhook"] = timed(post)[0]
    path.unlink()
    return seconds


def main() -> None:
    from app.db import dispose_engines
    from app.settings import override_settings
    from tests.support.emulator import EmulatorServer
    from tests.support.services import ServerProcess, free_port

    workdir = Path(tempfile.mkdtemp(prefix="bench-delivery-"))
    moto_port, receiver_port = free_port(), free_port()
    receiver_log = workdir / "receiver.jsonl"
    moto_cmd = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)]
    moto = ServerProcess(
        moto_cmd, moto_port, log_path=Path(tempfile.gettempdir()) / "bench-delivery-moto.log"
    )
    receiver = ServerProcess(
        [
            sys.executable,
            "-c",
            f"from benchmarks.bench_delivery import serve_receiver; "
            f"serve_receiver({receiver_port}, {str(receiver_log)!r}, {SECRET!r})",
        ],
        receiver_port,
    )
    emu = EmulatorServer(tokens={"bench-token": "org1"})
    receiver_url = f"http://127.0.0.1:{receiver_port}/hook"
    try:
        moto.start()
        receiver.start()
        emu.start()
        with override_settings(
            database_url=f"sqlite:///{workdir / 'bench.db'}",
            data_dir=str(workdir),
            result_store_url=f"file://{workdir / 'results'}",
            webhook_allow_loopback=True,
            webhook_csv_max_bytes=4 * SIZE,
            s3_endpoint_url=f"http://127.0.0.1:{moto_port}",
            s3_region="us-east-1",
            s3_access_key_id="bench",
            s3_secret_access_key="bench",
        ):
            from worker.results.s3client import make_s3_client

            make_s3_client().create_bucket(Bucket=BUCKET)
            script_id = emu.create_script("bench-generated", 'from(bucket: "b") |> range(start: -1h)')
            cold = rss()
            pipeline(emu, script_id, WARMUP_BYTES, receiver_url, "warmup")
            gc.collect()
            idle = rss()
            with sampled_peak() as sampled:
                ours = pipeline(emu, script_id, SIZE, receiver_url, "bench")
            peak = max(peak_rss(), sampled[0])
            plain = plain_copies(emu, script_id, SIZE, receiver_url, workdir)
            dispose_engines()
        report(cold, idle, peak, sampled[0], ours, plain, receiver_log)
    finally:
        emu.stop()
        receiver.stop()
        moto.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def report(
    cold: int, idle: int, peak: int, sampled: int, ours: dict[str, float], plain: dict[str, float], log: Path
) -> None:
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    big = [entry for entry in lines if entry["bytes"] == SIZE and entry["id"]]
    signed_ok = bool(big) and all(entry["verified"] for entry in big)
    growth_mib = (peak - idle) / MIB
    print(f"result size: {SIZE / MIB:.0f} MiB ({SIZE / 1e6:.0f} MB)")
    print(f"worker RSS: cold {cold / MIB:.0f} MiB, idle after warm-up {idle / MIB:.0f} MiB, ", end="")
    print(f"peak {peak / MIB:.0f} MiB (sampled {sampled / MIB:.0f} MiB)")
    verdict = "OK" if growth_mib < RSS_TARGET_MIB else "MISSED"
    print(f"peak RSS growth over idle: {growth_mib:6.1f} MiB  (target < {RSS_TARGET_MIB} MiB) {verdict}")
    print(f"webhook csv body received whole and signature verified: {signed_ok}")
    names = {
        "invoke": ("invoke -> spool -> file store", "plain httpx stream to a file"),
        "s3": ("stored result -> S3 (multipart)", "plain boto3 upload_file"),
        "webhook": ("stored result -> webhook csv (sign + send)", "plain httpx POST of the file"),
    }
    for step, (ours_name, plain_name) in names.items():
        a, b = mbps(SIZE, ours[step]), mbps(SIZE, plain[step])
        print(f"{ours_name:45s} {a:7.1f} MB/s | {plain_name:30s} {b:7.1f} MB/s | ", end="")
        print(f"ratio {a / b:5.2f} (no target)")


if __name__ == "__main__":
    main()
