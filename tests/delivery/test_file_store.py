"""The local-folder result store: atomic writes, overwrite on retry, gzip."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import pytest

from worker.results import FileResultStore, ResultNotFound, StoreUrlError, get_result_store


def spool(tmp_path: Path, data: bytes, name: str = "spool.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_file_url_selects_the_folder_store(tmp_path: Path) -> None:
    store = get_result_store(f"file://{tmp_path}/results?gzip=true")
    assert isinstance(store, FileResultStore)
    assert store.root == (tmp_path / "results").resolve()
    assert store.gzip is True


def test_relative_file_url_is_relative_to_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = get_result_store("file://./data/results")
    assert isinstance(store, FileResultStore)
    assert store.root == tmp_path / "data" / "results"


def test_unknown_scheme_is_refused() -> None:
    with pytest.raises(StoreUrlError, match="file:// or s3://"):
        get_result_store("ftp://x/y")


def test_put_stores_the_bytes_at_the_key(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    location = store.put("s/t/0-abc.csv", spool(tmp_path, b"a,b\r\n1,2\r\n"))
    assert location == f"file://{tmp_path / 'results' / 's' / 't' / '0-abc.csv'}"
    with store.open(location) as f:
        assert f.read() == b"a,b\r\n1,2\r\n"
    assert store.size(location) == 10


def test_retry_overwrites_rather_than_duplicates(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    first = store.put("k.csv", spool(tmp_path, b"old", "spool-1.csv"))
    second = store.put("k.csv", spool(tmp_path, b"new", "spool-2.csv"))
    assert first == second
    assert sorted(os.listdir(tmp_path / "results")) == ["k.csv"]
    with store.open(second) as f:
        assert f.read() == b"new"


def test_failed_write_leaves_the_previous_object_and_no_temp_file(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    location = store.put("k.csv", spool(tmp_path, b"complete"))

    class Exploding:
        sent = False

        def read(self, size: int = -1) -> bytes:
            if self.sent:
                raise RuntimeError("stream cut")
            self.sent = True
            return b"partial"

    with pytest.raises(RuntimeError, match="stream cut"):
        store.put_stream("k.csv", Exploding())
    assert os.listdir(tmp_path / "results") == ["k.csv"]
    with store.open(location) as f:
        assert f.read() == b"complete"


def test_gzip_round_trip(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    data = b"time,value\r\n" + b"2026-01-01T00:00:00Z,1.5\r\n" * 10_000
    location = store.put("k.csv", spool(tmp_path, data), gzip=True)
    assert location.endswith("k.csv.gz")
    with store.open(location) as f:
        assert gzip.decompress(f.read()) == data
    with store.open(location, decompress=True) as f:
        assert f.read() == data


def test_keys_can_not_leave_the_folder(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    for key in ("../escape.csv", "a/../../escape.csv", "a/..", "a/", "."):
        with pytest.raises(StoreUrlError):
            store.put(key, spool(tmp_path, b"x"))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "out").symlink_to(tmp_path)  # a folder that is a link to outside
    with pytest.raises(StoreUrlError):
        store.put("out/escape.csv", spool(tmp_path, b"x"))
    with pytest.raises(StoreUrlError):
        store.open(f"file://{tmp_path}/elsewhere.csv").__enter__()


def test_missing_result_raises_not_found(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    with pytest.raises(ResultNotFound), store.open(f"file://{tmp_path}/results/none.csv"):
        pass


def test_spool_on_the_same_file_system_is_linked_not_copied(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    source = spool(tmp_path, b"a,b\r\n")
    location = store.put("k.csv", source)
    assert store.path_of(location).stat().st_ino == source.stat().st_ino
    source.unlink()  # the caller removes its spool; the stored result stays
    with store.open(location) as f:
        assert f.read() == b"a,b\r\n"


def test_a_folder_removed_after_a_put_is_made_again(tmp_path: Path) -> None:
    store = FileResultStore(tmp_path / "results")
    store.put("run-1/a.csv", spool(tmp_path, b"a"))
    shutil.rmtree(tmp_path / "results" / "run-1")  # a clean-up between two results of one folder
    location = store.put("run-1/b.csv", spool(tmp_path, b"b"))
    with store.open(location) as f:
        assert f.read() == b"b"
    gz = store.put("run-1/c.csv", spool(tmp_path, b"c"), gzip=True)
    shutil.rmtree(tmp_path / "results" / "run-1")
    assert store.put("run-1/c.csv", spool(tmp_path, b"c"), gzip=True) == gz
