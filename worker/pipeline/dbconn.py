"""One pooled database connection held for the whole of one invocation.

An invoke talks to the database two or three times (claim, outcome, sometimes a wait). Holding one
connection costs one pool checkout (and one pre-ping) instead of three; single statements run in
autocommit (a conditional UPDATE is atomic on its own: no BEGIN/COMMIT round trips); the claim's
commit does not wait for the disk; the outcome, which touches the invocation and its run together,
is one durable transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy.engine import Engine
from sqlmodel import Session


class HeldConnection:
    """A checked-out connection; ``single()`` for autocommit statements, ``transaction()`` for a unit."""

    def __init__(self, engine: Engine) -> None:
        self._conn = engine.connect()
        self._default_isolation = self._conn.default_isolation_level

    def __enter__(self) -> HeldConnection:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._conn.close()

    @contextmanager
    def single(self) -> Iterator[Session]:
        """A session whose every statement commits on its own."""
        self._conn.execution_options(isolation_level="AUTOCOMMIT")
        try:
            with Session(bind=self._conn, expire_on_commit=False) as session:
                yield session
                session.commit()
        finally:
            self._conn.rollback()
            self._conn.execution_options(isolation_level=self._default_isolation)

    @contextmanager
    def claim(self) -> Iterator[Session]:
        """A transaction whose commit does not wait for the disk (PostgreSQL ``synchronous_commit``
        off, this transaction only). For the claim alone: losing it in a database crash is harmless
        (the invocation is claimed again), and the outcome's durable commit flushes it anyway."""
        with self.transaction() as session:
            if self._conn.dialect.name == "postgresql":
                session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with Session(bind=self._conn, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
