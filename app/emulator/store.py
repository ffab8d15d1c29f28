"""Persistent storage of invocable scripts (SQLite: a file, or ``:memory:``), partitioned by org."""

from __future__ import annotations

import secrets
import sqlite3
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from app.emulator.errors import ConflictError, NotFoundError

LANGUAGES = ("flux", "sql", "influxql")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scripts (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    script TEXT NOT NULL,
    language TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX IF NOT EXISTS scripts_org_name ON scripts (org_id, name);
"""


def rfc3339_now() -> str:
    """Now as RFC 3339 UTC with microseconds and ``Z`` (``2021-10-15T20:32:04.172938Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id() -> str:
    """16 lower-case hex characters, like InfluxDB's platform IDs."""
    return secrets.token_hex(8)


@dataclass(frozen=True)
class StoredScript:
    id: str
    org_id: str
    name: str
    description: str
    script: str
    language: str
    created_at: str
    updated_at: str

    def to_json(self, base_url: str = "") -> dict[str, Any]:
        return {
            "id": self.id,
            "orgID": self.org_id,
            "name": self.name,
            "description": self.description,
            "script": self.script,
            "language": self.language,
            "url": f"{base_url}/api/v2/scripts/{self.id}",
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ScriptStore:
    """Scripts in SQLite. Thread-safe (one connection behind a lock); every call is scoped to an org."""

    def __init__(self, path: str = ":memory:") -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @staticmethod
    def _row(row: sqlite3.Row) -> StoredScript:
        return StoredScript(**{key: row[key] for key in row.keys()})  # noqa: SIM118

    def create(self, org_id: str, name: str, description: str, script: str, language: str) -> StoredScript:
        now = rfc3339_now()
        item = StoredScript(new_id(), org_id, name, description, script, language, now, now)
        with self._lock:
            try:
                self._conn.execute(
                    "INSERT INTO scripts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (item.id, org_id, name, description, script, language, now, now),
                )
            except sqlite3.IntegrityError:
                raise ConflictError("uniqueness violation") from None
        return item

    def get(self, org_id: str, script_id: str) -> StoredScript:
        with self._lock:
            row = self._conn.execute(
                "SELECT * FROM scripts WHERE id = ? AND org_id = ?", (script_id, org_id)
            ).fetchone()
        if row is None:
            raise NotFoundError(f'script "{script_id}" not found')
        return self._row(row)

    def list(self, org_id: str, *, offset: int, limit: int, name: str | None) -> list[StoredScript]:
        sql = "SELECT * FROM scripts WHERE org_id = ?"
        args: list[Any] = [org_id]
        if name is not None:
            sql += " AND name = ?"
            args.append(name)
        sql += " ORDER BY created_at, id LIMIT ? OFFSET ?"
        args += [limit, offset]
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._row(row) for row in rows]

    def update(
        self, org_id: str, script_id: str, *, description: str | None, script: str | None
    ) -> StoredScript:
        current = self.get(org_id, script_id)
        now = rfc3339_now()
        with self._lock:
            self._conn.execute(
                "UPDATE scripts SET description = ?, script = ?, updated_at = ? WHERE id = ? AND org_id = ?",
                (
                    current.description if description is None else description,
                    current.script if script is None else script,
                    now,
                    script_id,
                    org_id,
                ),
            )
        return self.get(org_id, script_id)

    def delete(self, org_id: str, script_id: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM scripts WHERE id = ? AND org_id = ?", (script_id, org_id))
