"""Streaming checks on an invoke's CSV body: the ``,error,reference`` tail and the final blank line.

A 200 is not proof of success. An error found after rows were streamed is appended as a blank line,
the header ``,error,reference`` and one row ``,<message>,``. That tail can only start at a line start,
so :class:`CsvTailScanner` passes the body through chunk by chunk and holds back only the last
:data:`LOOKAHEAD_BYTES` bytes received: just enough to recognise a tail that straddles two chunks.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator

import httpx

from app import constants
from app.influx.errors import InfluxError, InvokeTimeoutError, ScriptRuntimeError, TruncatedBodyError

TAIL_HEADER = b",error,reference"
# A tail start is a blank line (2 bytes), the header (16) and its line end (2): recognisable in 20 bytes.
LOOKAHEAD_BYTES = 2 + len(TAIL_HEADER) + 2


class CsvTailScanner:
    """Feed it the body's chunks, emit what it returns, then call :meth:`finish` at the end of the body."""

    def __init__(self) -> None:
        self._pending = b""  # the last bytes received, held back (at most LOOKAHEAD_BYTES)
        self._before = b"\n"  # the last byte emitted; the body's start counts as a line start
        self._tail: bytearray | None = None  # everything after the `,error,reference` header line
        self.bytes_in = 0
        self.bytes_out = 0

    @property
    def in_tail(self) -> bool:
        return self._tail is not None

    def feed(self, chunk: bytes) -> bytes:
        """Take the next chunk of the body; return the bytes that are safe to hand to the caller."""
        self.bytes_in += len(chunk)
        if self._tail is not None:
            self._keep_tail(chunk)
            return b""
        data = self._before + self._pending + chunk  # data[0] was emitted already (or is the body start)
        found = self._find_tail(data, at_body_start=self.bytes_out == 0)
        if found is not None:
            blank_start, rest_start = found
            self._tail = bytearray()
            self._keep_tail(data[rest_start:])
            self._pending = b""
            self.bytes_out += blank_start - 1
            return data[1:blank_start]
        keep = min(LOOKAHEAD_BYTES, len(data) - 1)
        cut = len(data) - keep
        self._pending = data[cut:]
        if cut <= 1:
            return b""
        self._before = data[cut - 1 : cut]
        self.bytes_out += cut - 1
        return data[1:cut]

    def finish(self) -> bytes:
        """At the end of the body: return the last bytes to emit, or raise for a tail or a cut-off body."""
        if self._tail is not None:
            raise ScriptRuntimeError(parse_tail_message(bytes(self._tail)), status=200)
        ending = (self._before + self._pending)[-3:]
        clean = self.bytes_in == 0 or ending.endswith((b"\n\r\n", b"\n\n"))
        if not clean:
            raise TruncatedBodyError("the CSV body does not end with its final blank line: it was cut off")
        rest, self._pending = self._pending, b""
        self.bytes_out += len(rest)
        return rest

    @staticmethod
    def _find_tail(data: bytes, *, at_body_start: bool) -> tuple[int, int] | None:
        """(where the tail's blank line starts, where the bytes after its header line start), or None.

        The header counts only as a whole line right after a blank line (or at the body's start)."""
        at = data.find(TAIL_HEADER, 1)
        while at >= 0:
            end = at + len(TAIL_HEADER)
            line_end = 2 if data.startswith(b"\r\n", end) else 1 if data.startswith(b"\n", end) else 0
            if line_end:
                if data.endswith((b"\n\r\n", b"\n\n"), 0, at):
                    return at - (2 if data.endswith(b"\r\n", 0, at) else 1), end + line_end
                if at == 1 and at_body_start:
                    return 1, end + line_end
            at = data.find(TAIL_HEADER, at + 1)
        return None

    def _keep_tail(self, data: bytes) -> None:
        assert self._tail is not None
        room = constants.INFLUX_ERROR_TAIL_MAX_BYTES - len(self._tail)
        if room > 0:
            self._tail += data[:room]


def parse_tail_message(tail: bytes) -> str:
    """The message of the ``,<message>,`` row that follows the ``,error,reference`` header."""
    text = tail.decode("utf-8", errors="replace")
    try:
        for row in csv.reader(io.StringIO(text)):
            if len(row) >= 2 and row[1].strip():
                return row[1].strip()
    except csv.Error:
        pass
    stripped = text.strip().strip(",").strip()
    return stripped or "the script failed after streaming rows (empty error table)"


class InvokeResult:
    """The streamed CSV body of a successful invoke. Iterate it once, with :meth:`iter_bytes` or
    :meth:`iter_lines`; reaching the end raises if the body ends in an error table or was cut off."""

    def __init__(self, response: httpx.Response, *, deadline: float | None = None) -> None:
        self._response = response
        self._deadline = deadline  # time.monotonic() value after which the stream is abandoned
        self._scanner = CsvTailScanner()
        self.bytes_received = 0  # body bytes handed to the caller so far

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        """Yield the CSV as byte chunks (never the error tail); raise at the end on an error or a cut.

        Chunks come as the network delivers them; ``chunk_size`` makes httpx re-buffer them to that size.
        """
        scanner = self._scanner
        try:
            for chunk in self._response.iter_bytes(chunk_size):
                self._check_deadline()
                out = scanner.feed(chunk)
                if out:
                    self.bytes_received += len(out)
                    yield out
        except InfluxError:
            raise
        except httpx.TimeoutException as exc:
            if scanner.in_tail:
                scanner.finish()
            raise InvokeTimeoutError(f"timed out reading the CSV body: {exc or type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            if scanner.in_tail:
                scanner.finish()
            raise TruncatedBodyError(
                f"the connection broke after {scanner.bytes_in} body bytes: {exc or type(exc).__name__}"
            ) from exc
        rest = scanner.finish()
        if rest:
            self.bytes_received += len(rest)
            yield rest

    def iter_lines(self) -> Iterator[str]:
        """Yield the CSV's lines as text without their CRLF (blank lines included: they end results)."""
        pending = bytearray()
        for chunk in self.iter_bytes():
            pending += chunk
            start = 0
            while (newline := pending.find(b"\n", start)) >= 0:
                yield pending[start:newline].rstrip(b"\r").decode("utf-8", errors="replace")
                start = newline + 1
            del pending[:start]
        if pending:
            yield pending.rstrip(b"\r").decode("utf-8", errors="replace")

    def _check_deadline(self) -> None:
        if self._deadline is not None and time.monotonic() > self._deadline:
            raise InvokeTimeoutError("the invoke ran past its timeout while streaming the CSV body")
