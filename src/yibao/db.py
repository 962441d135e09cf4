"""Database plumbing: declarative base, engine, and the unit of work that owns a transaction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, TypeDecorator, create_engine
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit keys on PostgreSQL; SQLite only auto-increments INTEGER PRIMARY KEY.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of every mapped class; one MetaData with a naming convention for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def agency_column() -> Any:
    """The agency (division code) every table carries: the distribution key for Citus."""
    from sqlalchemy.orm import mapped_column

    return mapped_column(String(6), nullable=False, index=False)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys, a busy timeout and a writer queue.

    Statement parameters are never put into error messages or logs: they hold ID numbers.
    """
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)
        # SQLite has one writer at a time. Writers of this process queue on a lock, in order,
        # instead of polling in SQLite's busy handler (whose back-off makes a long tail).
        writer = threading.Lock()

        @sa_event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so that BEGIN IMMEDIATE below takes effect.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa_event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A writing unit of work takes the write lock up front, so it never fails on a
            # lock upgrade halfway through; readers begin deferred and never wait.
            if conn.get_execution_options().get("sqlite_immediate"):
                writer.acquire()
                conn.info["holds_writer"] = True
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                except BaseException:
                    _release(conn)
                    raise
            else:
                conn.exec_driver_sql("BEGIN")

        def _release(conn: Any) -> None:
            if conn.info.pop("holds_writer", False):
                writer.release()

        sa_event.listen(engine, "commit", _release)
        sa_event.listen(engine, "rollback", _release)
        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


class UnitOfWork:
    """Owns one session and its transaction; ``commit`` is the only way to persist.

    The transaction begins with the first statement (as a writer: BEGIN IMMEDIATE on SQLite)
    and ends at ``commit`` or ``rollback``; a later statement begins a new one.
    """

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._factory = session_factory
        self.session: Session

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        return self

    def __exit__(self, *exc: object) -> None:
        self.session.rollback()
        self.session.close()

    def commit(self) -> None:
        """Commit the transaction."""
        self.session.commit()

    def rollback(self) -> None:
        """Abandon the transaction."""
        self.session.rollback()


class Database:
    """An engine and its session factories (readers and writers); one per process and URL."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer_engine = self.engine.execution_options(sqlite_immediate=True)
        self.write_sessions = sessionmaker(writer_engine, expire_on_commit=False)

    def uow(self) -> UnitOfWork:
        """A new writing unit of work."""
        return UnitOfWork(self.write_sessions)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read session, closed on exit."""
        with self.sessions() as s:
            yield s

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
