"""Small binary-stream helpers with bounded memory: exact reads, gzip compression on read, copying."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import IO, Protocol

from app import constants


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def read_exact(stream: Readable, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the stream."""
    chunks: list[bytes] = []
    remaining = size
    while remaining > 0:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class GzipCompressingReader:
    """Reads ``raw`` and returns its gzip compression, a piece at a time (never the whole stream)."""

    def __init__(self, raw: Readable, level: int = constants.RESULT_GZIP_LEVEL) -> None:
        self._raw = raw
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip header and trailer
        self._buffer = bytearray()
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        if size is None or size < 0:
            return b"".join(iter(lambda: self.read(constants.RESULT_COPY_CHUNK_BYTES), b""))
        while len(self._buffer) < size and not self._done:
            chunk = self._raw.read(constants.RESULT_COPY_CHUNK_BYTES)
            if chunk:
                self._buffer += self._compressor.compress(chunk)
            else:
                self._buffer += self._compressor.flush()
                self._done = True
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


def copy_stream(
    source: Readable,
    target: IO[bytes],
    *,
    chunk_bytes: int = constants.RESULT_COPY_CHUNK_BYTES,
    on_chunk: Callable[[bytes], None] | None = None,
) -> int:
    """Copy ``source`` to ``target`` a chunk at a time; return the bytes copied."""
    total = 0
    while True:
        chunk = source.read(chunk_bytes)
        if not chunk:
            return total
        if on_chunk is not None:
            on_chunk(chunk)
        target.write(chunk)
        total += len(chunk)
