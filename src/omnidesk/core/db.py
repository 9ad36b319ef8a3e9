"""Database engine, declarative base and tenant-scoped sessions.

Every tenant-owned model mixes in :class:`TenantOwned`. A :class:`Session` opened with :func:`tenant_session`
carries its tenant in ``session.info``; an ORM-level hook then adds ``tenant_id = :tenant`` to every SELECT, UPDATE
and DELETE on tenant-owned tables, and a flush hook refuses to write a row that belongs to another tenant. So a
forgotten filter in a query cannot leak data across tenants. A session opened without a tenant must say so
explicitly (``platform_session``); querying tenant-owned rows from a session that declared neither fails closed.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, MetaData, Uuid, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from omnidesk.events.bus import EventBus
from omnidesk.events.outbox import attach_bus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, uuid.UUID: Uuid, dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class TenantOwned:
    """Mixin: the row belongs to exactly one tenant; sessions scope queries to it automatically."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(index=True)


READ_ONLY_OPTION = "omnidesk_read_only"
JOBS_WAKE = "omnidesk_jobs_wake"


class ReadOnlySession(RuntimeError):
    """A read transaction tried to write: use a write transaction for actions."""


class CrossTenantWrite(RuntimeError):
    """A flush tried to write a row of another tenant: a programming error, never a user error."""


class UnscopedSession(RuntimeError):
    """A tenant-owned table was queried from a session that declared no tenant."""


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=StaticPool if memory else None,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            # pysqlite's own transaction handling defers BEGIN; take the write lock at BEGIN instead so that
            # read-then-write transactions do not fail with "database is locked" under concurrency.
            dbapi_conn.isolation_level = None

        # SQLite's own busy handler waits by sleeping in growing steps (up to 100 ms), so under many concurrent
        # writers the lock sits idle while everyone sleeps and throughput collapses. Writers of this process queue
        # on a lock instead and take turns at once; the busy timeout still arbitrates between processes.
        writers = threading.Lock()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Readers take no lock at BEGIN, so reads run in parallel with one writer (WAL); writers take turns on
            # an in-process lock first, which is much cheaper than SQLite's busy-wait.
            read_only = conn.get_execution_options().get(READ_ONLY_OPTION, False)
            if read_only:
                conn.exec_driver_sql("BEGIN")
            else:
                conn.info["omnidesk_writer"] = writers.acquire(timeout=30)
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        def _release(conn: Any) -> None:
            if conn.info.pop("omnidesk_writer", False):
                writers.release()

        event.listen(engine, "commit", _release)
        event.listen(engine, "rollback", _release)

        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    info = state.session.info
    if info.get("platform"):
        return
    tenant_id = info.get("tenant_id")
    if tenant_id is None:
        if _touches_tenant_owned(state):
            raise UnscopedSession("tenant-owned data queried from a session without a tenant")
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


def _touches_tenant_owned(state: ORMExecuteState) -> bool:
    return any(issubclass(mapper.class_, TenantOwned) for mapper in state.all_mappers)


@event.listens_for(Session, "before_flush")
def _refuse_cross_tenant_writes(session: Session, _ctx: Any, _instances: Any) -> None:
    if session.info.get("read_only") and (session.new or session.dirty or session.deleted):
        raise ReadOnlySession("a read transaction tried to write")
    if session.info.get("platform"):
        return
    tenant_id = session.info.get("tenant_id")
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if not isinstance(obj, TenantOwned):
            continue
        if tenant_id is None:
            raise UnscopedSession(f"{type(obj).__name__} written from a session without a tenant")
        if obj.tenant_id is None and obj in session.new:
            obj.tenant_id = tenant_id
        elif obj.tenant_id != tenant_id:
            raise CrossTenantWrite(f"{type(obj).__name__} of another tenant")


class Database:
    """Owns the engine and hands out sessions scoped to a tenant or, explicitly, to the platform."""

    def __init__(self, url: str, bus: EventBus | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.bus = bus
        # Told the ids of follow-up jobs a transaction of this process queued, right after it commits, so that
        # the job relay of this process sends them on at once (``omnidesk.jobs``); None: the relay polls.
        self.jobs_wake: Callable[[list[uuid.UUID]], None] | None = None
        self._factory = make_session_factory(self.engine)
        self._read_factory = make_session_factory(self.engine.execution_options(**{READ_ONLY_OPTION: True}))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(
        self, tenant_id: uuid.UUID | None = None, *, platform: bool = False, read_only: bool = False
    ) -> Session:
        s = (self._read_factory if read_only else self._factory)()
        s.info["tenant_id"] = tenant_id
        s.info["platform"] = platform
        s.info["read_only"] = read_only
        attach_bus(s, self.bus)
        s.info[JOBS_WAKE] = self.jobs_wake
        return s

    @contextmanager
    def tenant_transaction(self, tenant_id: uuid.UUID) -> Iterator[Session]:
        with self.session(tenant_id) as s, s.begin():
            yield s

    @contextmanager
    def tenant_read(self, tenant_id: uuid.UUID) -> Iterator[Session]:
        """A read-only transaction: on SQLite it does not take the write lock, so reads never queue behind writes."""
        with self.session(tenant_id, read_only=True) as s, s.begin():
            yield s

    @contextmanager
    def platform_transaction(self) -> Iterator[Session]:
        with self.session(platform=True) as s, s.begin():
            yield s

    @contextmanager
    def platform_read(self) -> Iterator[Session]:
        with self.session(platform=True, read_only=True) as s, s.begin():
            yield s

    def dispose(self) -> None:
        self.engine.dispose()
