"""Results in a local folder: a temporary file in the target folder, fsync, then ``os.replace``
(atomic on POSIX), so a reader sees the old object or the whole new one, never a part. A spool file on
the same file system is hard-linked into place rather than copied (same atomic rename, no second write)."""

from __future__ import annotations

import gzip as gziplib
import io
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from app import constants
from worker.results.base import gzip_key, is_gzip_location
from worker.results.errors import ResultNotFound, RetryableStoreError, StoreUrlError
from worker.results.streams import Readable, copy_stream

FILE_SCHEME = "file://"
_FOLDER_CACHE_MAX = 4096


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FileResultStore:
    """A folder of results; locations are ``file:///absolute/path``."""

    local = True

    def __init__(self, root: str | Path, *, gzip: bool = False, url: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.gzip = gzip
        self.url = url or f"{FILE_SCHEME}{self.root}"
        self._folders: dict[str, Path] = {}  # a key's folder part -> its checked, created folder

    def _path(self, key: str) -> Path:
        """The file of ``key``: its folder resolved (symlinks too), checked to be inside the store and
        created, once per folder; the name is checked on its own (a file is replaced, never followed)."""
        folder_key, name = os.path.split(key)
        if name in {"", ".", ".."}:
            raise StoreUrlError(f"result key {key!r} leaves the store folder")
        folder = self._folders.get(folder_key)
        if folder is None:
            folder = (self.root / folder_key).resolve()
            if not folder.is_relative_to(self.root):
                raise StoreUrlError(f"result key {key!r} leaves the store folder")
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RetryableStoreError(f"cannot write in {folder}: {exc.strerror}") from None
            if len(self._folders) >= _FOLDER_CACHE_MAX:
                self._folders.clear()
            self._folders[folder_key] = folder
        return folder / name

    def _location(self, path: Path) -> str:
        return f"{FILE_SCHEME}{path}"

    def path_of(self, location: str) -> Path:
        """The file of a location; raises StoreUrlError unless it is inside this store's folder."""
        if not location.startswith(FILE_SCHEME):
            raise StoreUrlError("result location is not a file:// location")
        path = Path(location[len(FILE_SCHEME) :]).resolve()
        if not path.is_relative_to(self.root):
            raise StoreUrlError("result location is outside the store folder")
        return path

    def _write_atomic(self, path: Path, source: Readable, *, compress: bool) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # removed since it was cached, perhaps
            fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise RetryableStoreError(f"cannot write in {path.parent}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as raw:
                if compress:
                    with gziplib.GzipFile(
                        filename="",
                        mode="wb",
                        fileobj=raw,
                        compresslevel=constants.RESULT_GZIP_LEVEL,
                        mtime=0,
                    ) as target:
                        copy_stream(source, target)  # type: ignore[arg-type]
                else:
                    copy_stream(source, raw)
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(tmp_name, path)
            _fsync_dir(path.parent)
        except BaseException as exc:
            Path(tmp_name).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise RetryableStoreError(f"cannot write {path.name}: {exc.strerror}") from None
            raise

    def put(self, key: str, spool_path: Path, *, gzip: bool = False) -> str:
        compress = gzip or self.gzip
        path = self._path(gzip_key(key, compress))
        if not compress and self._link_atomic(path, Path(spool_path)):
            return self._location(path)
        with open(spool_path, "rb") as source:
            self._write_atomic(path, source, compress=compress)
        return self._location(path)

    def _link_atomic(self, path: Path, spool_path: Path) -> bool:
        """Store the spool file itself (a hard link, no copy) when it is on the same file system: fsync
        it, link it under a temporary name, rename. False (nothing changed) when links cannot be made."""
        tmp = f"{path.parent}/.{path.name}.{os.getpid()}.{threading.get_ident()}.link"
        try:
            fd = os.open(spool_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(spool_path, tmp)
            except FileExistsError:  # left by a crash of this same process id and thread
                os.unlink(tmp)
                os.link(spool_path, tmp)
            except FileNotFoundError:  # the folder was removed since it was cached
                path.parent.mkdir(parents=True, exist_ok=True)
                os.link(spool_path, tmp)
        except OSError:
            return False
        try:
            os.replace(tmp, path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise RetryableStoreError(f"cannot write {path.name}: {exc.strerror}") from None
        _fsync_dir(path.parent)
        return True

    def put_stream(self, key: str, source: Readable, *, gzip: bool = False) -> str:
        compress = gzip or self.gzip
        path = self._path(gzip_key(key, compress))
        self._write_atomic(path, source, compress=compress)
        return self._location(path)

    def put_bytes(self, key: str, data: bytes, *, content_type: str) -> str:
        path = self._path(key)
        self._write_atomic(path, io.BytesIO(data), compress=False)
        return self._location(path)

    @contextmanager
    def open(self, location: str, *, decompress: bool = False) -> Iterator[IO[bytes]]:
        path = self.path_of(location)
        try:
            handle = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            raise ResultNotFound(f"no stored result at {path.name}") from None
        with handle:
            if decompress and is_gzip_location(location):
                with gziplib.GzipFile(fileobj=handle, mode="rb") as unzipped:
                    yield unzipped  # type: ignore[misc]
            else:
                yield handle

    def size(self, location: str) -> int:
        try:
            return self.path_of(location).stat().st_size
        except FileNotFoundError:
            raise ResultNotFound("no stored result at that location") from None

    def link(self, location: str, *, expires_s: int) -> str | None:
        return None
