"""Invoke streams the CSV; an error table or a cut-off body never passes as a short success."""

from __future__ import annotations

import json
import random
from itertools import pairwise

import httpx
import pytest

from app.influx.errors import InvokeTimeoutError, ScriptRuntimeError, TruncatedBodyError
from app.influx.stream import LOOKAHEAD_BYTES, CsvTailScanner
from tests.influx.fakes import CSV_BODY, CSV_HEADER, CSV_ROWS, SCRIPT_ID, client_for, csv_response

ERROR_TAIL = b"\r\n,error,reference\r\n,runtime error @1:1-1:10: bucket is gone,\r\n\r\n"


def _collect(*chunks: bytes, fail_with: Exception | None = None) -> tuple[bytes, Exception | None]:
    """What the caller receives, and the error raised at the end (if any)."""
    received = bytearray()
    with client_for(lambda request: csv_response(*chunks, fail_with=fail_with)) as client:
        try:
            with client.invoke(SCRIPT_ID) as result:
                for chunk in result.iter_bytes():
                    received += chunk
        except Exception as exc:
            return bytes(received), exc
    return bytes(received), None


def test_invoke_posts_the_params_and_streams_the_csv() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/api/v2/scripts/{SCRIPT_ID}/invoke"
        bodies.append(json.loads(request.content))
        return csv_response(CSV_HEADER, *CSV_ROWS, b"\r\n")

    with client_for(handler) as client, client.invoke(SCRIPT_ID, {"mybucket": "air", "n": 2}) as result:
        chunks = list(result.iter_bytes())

    assert bodies == [{"params": {"mybucket": "air", "n": 2}}]
    assert b"".join(chunks) == CSV_BODY
    assert len(chunks) > 1  # handed over as it arrived, not as one body
    assert result.bytes_received == len(CSV_BODY)


def test_invoke_without_params_sends_an_empty_object() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        return csv_response(CSV_BODY)

    with client_for(handler) as client, client.invoke(SCRIPT_ID) as result:
        list(result.iter_bytes())
    assert json.loads(bodies[0]) == {}


def test_iter_lines_yields_lines_without_crlf() -> None:
    client = client_for(lambda request: csv_response(CSV_BODY[:7], CSV_BODY[7:]))
    with client.invoke(SCRIPT_ID) as result:
        lines = list(result.iter_lines())
    assert lines == [CSV_HEADER[:-2].decode(), CSV_ROWS[0][:-2].decode(), CSV_ROWS[1][:-2].decode(), ""]


def test_a_200_ending_in_an_error_table_raises_with_the_servers_message() -> None:
    received, exc = _collect(CSV_BODY[:-2], ERROR_TAIL)
    assert isinstance(exc, ScriptRuntimeError)
    assert exc.message == "runtime error @1:1-1:10: bucket is gone"
    assert exc.status == 200
    assert not exc.retryable
    assert received == CSV_BODY[:-2]  # the rows, and none of the tail's bytes


def test_the_error_table_is_found_whatever_the_chunk_boundaries() -> None:
    body = CSV_BODY[:-2] + ERROR_TAIL
    for cut in range(1, len(body)):
        received, exc = _collect(body[:cut], body[cut:])
        assert isinstance(exc, ScriptRuntimeError), cut
        assert received == CSV_BODY[:-2], cut


def test_a_quoted_error_message_is_unquoted() -> None:
    tail = b'\r\n,error,reference\r\n,"failed: ""x"", then y",\r\n'
    _, exc = _collect(CSV_BODY[:-2] + tail)
    assert isinstance(exc, ScriptRuntimeError)
    assert exc.message == 'failed: "x", then y'


def test_an_error_table_alone_raises() -> None:
    body = b",error,reference\r\n,boom,\r\n"
    for chunks in ([body], [body[i : i + 1] for i in range(len(body))]):
        received, exc = _collect(*chunks)
        assert isinstance(exc, ScriptRuntimeError)
        assert exc.message == "boom"
        assert received == b""


def test_a_connection_cut_mid_body_is_a_retryable_truncated_error() -> None:
    cut = httpx.RemoteProtocolError("peer closed connection without sending complete message body")
    received, exc = _collect(CSV_HEADER, CSV_ROWS[0], fail_with=cut)
    assert isinstance(exc, TruncatedBodyError)
    assert exc.retryable
    assert (CSV_HEADER + CSV_ROWS[0]).startswith(received)


def test_a_read_error_mid_body_is_truncated() -> None:
    _, exc = _collect(CSV_HEADER, fail_with=httpx.ReadError("connection reset"))
    assert isinstance(exc, TruncatedBodyError)


def test_a_read_timeout_mid_body_is_a_timeout() -> None:
    _, exc = _collect(CSV_HEADER, fail_with=httpx.ReadTimeout("read timed out"))
    assert isinstance(exc, InvokeTimeoutError)


def test_a_body_ending_mid_line_is_truncated() -> None:
    _, exc = _collect(CSV_HEADER, CSV_ROWS[0][:10])
    assert isinstance(exc, TruncatedBodyError)


def test_a_body_missing_its_final_blank_line_is_truncated() -> None:
    _, exc = _collect(CSV_HEADER, *CSV_ROWS)
    assert isinstance(exc, TruncatedBodyError)


def test_a_cut_inside_the_error_table_still_reports_the_script_error() -> None:
    tail = b"\r\n,error,reference\r\n,partial mess"
    _, exc = _collect(CSV_BODY[:-2], tail, fail_with=httpx.RemoteProtocolError("cut"))
    assert isinstance(exc, ScriptRuntimeError)
    assert exc.message == "partial mess"


def test_an_empty_body_is_an_empty_result() -> None:
    assert _collect() == (b"", None)


def test_several_results_with_blank_lines_between_pass_through() -> None:
    second = b",result,table,_time,host\r\n,_result,0,2021-09-28T16:13:05Z,a\r\n\r\n"
    received, exc = _collect(CSV_BODY, second)
    assert exc is None
    assert received == CSV_BODY + second


def test_only_the_last_lookahead_bytes_are_held_back() -> None:
    scanner = CsvTailScanner()
    body = CSV_BODY * 3
    assert scanner.feed(body) == body[:-LOOKAHEAD_BYTES]
    assert scanner.feed(b"x" * 1000) == body[-LOOKAHEAD_BYTES:] + b"x" * (1000 - LOOKAHEAD_BYTES)


def test_a_long_ordinary_line_streams_without_waiting_for_its_end() -> None:
    scanner = CsvTailScanner()
    line = b",_result,0," + b"x" * 1000
    assert scanner.feed(CSV_HEADER) + scanner.feed(line) == (CSV_HEADER + line)[:-LOOKAHEAD_BYTES]


def test_the_error_header_inside_a_value_is_data() -> None:
    row = b',_result,0,2021-09-28T16:13:05Z,"x\r\n,error,reference\r\ny"\r\n'
    received, exc = _collect(CSV_HEADER + row + b"\r\n")
    assert exc is None
    assert received == CSV_HEADER + row + b"\r\n"


def test_every_split_of_a_clean_body_yields_it_whole() -> None:
    body = CSV_BODY + CSV_BODY
    for a, b in pairwise(range(0, len(body) + 1, 5)):
        scanner = CsvTailScanner()
        out = scanner.feed(body[:a]) + scanner.feed(body[a:b]) + scanner.feed(body[b:]) + scanner.finish()
        assert out == body, (a, b)


def test_a_total_timeout_stops_a_stream_that_runs_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.5, 200.0, 300.0])
    monkeypatch.setattr("app.influx.client.time.monotonic", lambda: 100.0)
    client = client_for(lambda request: csv_response(CSV_HEADER, *CSV_ROWS, b"\r\n"))
    with client.invoke(SCRIPT_ID, timeout=10) as result:
        monkeypatch.setattr("app.influx.stream.time.monotonic", lambda: next(clock))
        with pytest.raises(InvokeTimeoutError):
            list(result.iter_bytes())


def test_the_response_is_closed_when_the_caller_stops_early() -> None:
    streams: list[httpx.Response] = []

    def handler(request: httpx.Request) -> httpx.Response:
        streams.append(csv_response(CSV_HEADER, *CSV_ROWS, b"\r\n"))
        return streams[-1]

    with client_for(handler) as client:
        with client.invoke(SCRIPT_ID) as result:
            next(iter(result.iter_bytes()))
        assert result._response.is_closed


def test_one_byte_chunks_give_the_same_result_as_one_chunk() -> None:
    second = b",result,table,_time,host\r\n,_result,0,2021-09-28T16:13:05Z,a\r\n\r\n"
    body = CSV_BODY + second + b"\r\n,error,reference\r\n,late failure,\r\n"
    received, exc = _collect(*(body[i : i + 1] for i in range(len(body))))
    assert isinstance(exc, ScriptRuntimeError)
    assert exc.message == "late failure"
    assert received == CSV_BODY + second


def _reference(body: bytes) -> tuple[bytes, str]:
    """The expected outcome from the whole body at once: (bytes handed over, "ok"|"tail"|"truncated")."""
    *complete, last = body.split(b"\n")
    lines = [line + b"\n" for line in complete] + ([last] if last else [])
    for k, line in enumerate(lines):
        if line.rstrip(b"\r\n") == b",error,reference" and line.endswith(b"\n"):
            if k == 0:
                return b"", "tail"
            if lines[k - 1] in (b"\r\n", b"\n") and (k == 1 or lines[k - 2].endswith(b"\n")):
                return b"".join(lines[: k - 1]), "tail"
    clean = not body or body in (b"\r\n", b"\n") or body.endswith((b"\n\r\n", b"\n\n"))
    return body, "ok" if clean else "truncated"


def test_random_bodies_and_chunkings_match_the_whole_body_reference() -> None:
    pieces = [CSV_HEADER, *CSV_ROWS, b"\r\n", b"\n", b",error,reference\r\n", b",error,reference\n",
              b",boom,\r\n", b"x,error,reference\r\n", b",error,reference,x\r\n", b"\r"]  # fmt: skip
    rng = random.Random(20261126)
    for _ in range(3000):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        cuts = sorted(rng.sample(range(1, len(body)), min(len(body) - 1, rng.randint(0, 4)))) if body else []
        chunks = [body[a:b] for a, b in pairwise([0, *cuts, len(body)])]
        scanner = CsvTailScanner()
        out = b"".join(scanner.feed(chunk) for chunk in chunks)
        try:
            out += scanner.finish()
            outcome = "ok"
        except ScriptRuntimeError:
            outcome = "tail"
        except TruncatedBodyError:
            outcome = "truncated"
        expected, expected_outcome = _reference(body)
        assert outcome == expected_outcome, body
        if outcome != "truncated":
            assert out == expected, body
