"""Streaming a CSV to a spool file while counting its bytes and data rows and hashing it (SHA-256)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


class CsvRowCounter:
    """Counts data rows of the scripts CSV fed in chunks: not header rows, not blank lines.

    A header row is the first non-blank line of the body and the first one after each blank line
    (each result or column set starts with a blank line and a new header). Annotation lines
    (``#datatype`` ...) are never data either.
    """

    def __init__(self) -> None:
        self.rows = 0
        self._expect_header = True
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        data = self._partial + chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            self._line(line)

    def finish(self) -> int:
        if self._partial:
            self._line(self._partial)
            self._partial = b""
        return self.rows

    def _line(self, line: bytes) -> None:
        line = line.rstrip(b"\r")
        if not line.strip() or line.startswith(b"#"):
            self._expect_header = True
        elif self._expect_header:
            self._expect_header = False
        else:
            self.rows += 1


@dataclass(frozen=True)
class Spooled:
    """A CSV written to ``path``: its size, data rows and SHA-256 (hex)."""

    path: Path
    size_bytes: int
    rows: int
    sha256: str


def spool_dir(data_dir: str) -> Path:
    path = Path(data_dir) / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


def spool_chunks(chunks: Iterable[bytes], directory: Path) -> Spooled:
    """Write ``chunks`` to a new temp file in ``directory``; the file is removed if iteration raises."""
    fd, name = tempfile.mkstemp(prefix="invoke-", suffix=".csv", dir=directory)
    path = Path(name)
    digest = hashlib.sha256()
    counter = CsvRowCounter()
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                digest.update(chunk)
                counter.feed(chunk)
                size += len(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path=path, size_bytes=size, rows=counter.finish(), sha256=digest.hexdigest())
