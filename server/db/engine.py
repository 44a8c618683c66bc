"""Choose and bind the database engine from a URL.

SQLite (a file, the embedded default) or PostgreSQL through asyncpg. Every
table, and Piccolo's migration table, is bound to the one engine so tests can
point the whole application at a fresh database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiosqlite
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, dict_factory
from piccolo.querystring import QueryString

from server.db import piccolo_conf
from server.db.registry import ALL_TABLES

#: Page cache per writing connection (SQLite's default is 2 MiB).
SQLITE_CACHE_KIB = 64 * 1024
SQLITE_BUSY_TIMEOUT_S = 30
#: Kept-open SQLite connections for reads (each is a thread in aiosqlite),
SQLITE_READ_CONNECTIONS = 4
#: and for reads of plain values (``read_values``).
SQLITE_PLAIN_READ_CONNECTIONS = 2


class BadDatabaseURL(ValueError):
    pass


class PooledSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with kept-open connections for statements outside a transaction.

    Piccolo opens a new connection (and aiosqlite a new thread) for every such
    statement, and SQLite re-reads the schema each time: about 1.4 ms of a
    2 ms point lookup (measured in bench/list_accounts.py). Reads borrow one of
    a few kept connections instead. They run in autocommit mode, so they see
    every committed write and never hold a snapshot. Transactions still open
    their own connection (``BEGIN IMMEDIATE`` in ``unit_of_work``).

    Reads that skip Piccolo's per-value converters (``read_values``) have
    connections of their own: a pool for pages, one per event-loop thread for
    short reads, and one for sync pulls (``fetch_plain``).
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self._idle: asyncio.Queue | None = None
        self._plain_idle: asyncio.Queue | None = None
        self._all: list[aiosqlite.Connection] = []
        self._plain: aiosqlite.Connection | None = None
        self._plain_lock = asyncio.Lock()
        self._here: dict[int, sqlite3.Connection] = {}

    @property
    def started(self) -> bool:
        return self._idle is not None

    def _plain_kwargs(self) -> dict[str, Any]:
        return {**self.connection_kwargs, "detect_types": 0}

    async def fetch_plain(self, sql: str, args: list[Any]) -> list[tuple]:
        """Rows as tuples of stored values (text, numbers), without Piccolo's per-value converters.

        For bulk reads that turn rows straight into wire records (sync pulls):
        building ``UUID`` and ``datetime`` objects only to turn them back into
        text and numbers cost more than reading the rows. Parameters still go
        through the adapters Piccolo registers, so comparisons match what it stored.
        """
        async with self._plain_lock:
            if self._plain is None:
                self._plain = await aiosqlite.connect(**self._plain_kwargs())
            return list(await self._plain.execute_fetchall(sql, args))

    async def read_pooled(self, sql: str, args: Sequence[Any]) -> list[tuple]:
        """``fetch_plain`` on one of the pooled plain connections (pool started)."""
        assert self._plain_idle is not None
        conn = await self._plain_idle.get()
        try:
            return list(await conn.execute_fetchall(sql, args))
        finally:
            if self._plain_idle is not None:
                self._plain_idle.put_nowait(conn)

    def read_here(self, sql: str, args: Sequence[Any]) -> list[tuple] | None:
        """``fetch_plain`` on the calling thread (the event loop's), ``None`` if SQLite is busy.

        Busy is rare for a reader in WAL mode; the caller then queues the read on a
        pooled connection, whose busy handler may wait, instead of blocking the loop.
        """
        conn = self._here.get(threading.get_ident())
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only = 1")
            self._here[threading.get_ident()] = conn
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):  # extended codes too
                return None
            raise

    async def start_pool(self, size: int, plain_size: int = SQLITE_PLAIN_READ_CONNECTIONS) -> None:
        self._idle, self._plain_idle = asyncio.Queue(), asyncio.Queue()
        for _ in range(size):
            conn = await aiosqlite.connect(**self.connection_kwargs)
            conn.row_factory = dict_factory  # type: ignore[assignment]
            await conn.execute("PRAGMA foreign_keys = 1")
            # Big transactions (placing 100k accounts) stay in memory instead of spilling to the WAL.
            await conn.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            self._all.append(conn)
            self._idle.put_nowait(conn)
        for _ in range(plain_size):
            conn = await aiosqlite.connect(**self._plain_kwargs())
            self._all.append(conn)
            self._plain_idle.put_nowait(conn)

    async def close_pool(self) -> None:
        self._idle = self._plain_idle = None
        here, self._here = self._here, {}
        for conn in here.values():
            conn.close()
        if self._plain is not None:
            await self._plain.close()
            self._plain = None
        conns, self._all = self._all, []
        for conn in conns:
            await conn.close()

    async def _run_in_new_connection(self, query: str, args: list[Any] | None = None,
                                     query_type: str = "generic", table: Any = None):
        if self._idle is None:
            return await super()._run_in_new_connection(query, args, query_type, table)
        conn = await self._idle.get()
        try:
            # One hop to the connection's thread and back (execute, fetch and close
            # as separate awaits took three).
            return list(await conn.execute_fetchall(query, args or []))
        finally:
            if self._idle is not None:
                self._idle.put_nowait(conn)


async def read_values(query: QueryString, *, short: bool = False) -> list[tuple]:
    """Rows of a read as tuples, without Piccolo's query objects and per-value converters.

    On SQLite, outside a transaction, values are as stored: UUIDs and timestamps
    as text, booleans as 0/1. Elsewhere (PostgreSQL, inside a transaction) they
    are the driver's Python objects, so callers accept both forms.

    ``short``: a read that does little work in SQLite whatever the data (rows
    found straight through an index: tens of microseconds). On SQLite it then
    runs right here on the event loop's thread: handing it to a connection's
    thread and back costs more, and under load the answer then waits for the
    GIL while the event loop runs Python (up to the 5 ms switch interval;
    bench/list_accounts.py). Other reads go to a pooled connection, whose
    thread runs SQLite without the GIL, beside the event loop.
    """
    engine = current_engine()
    if engine.current_transaction.get() is None:
        if isinstance(engine, PooledSQLiteEngine) and engine.started:
            sql, args = query.compile_string(engine_type="sqlite")
            rows = engine.read_here(sql, args) if short else None
            return rows if rows is not None else await engine.read_pooled(sql, args)
        if isinstance(engine, PostgresEngine) and engine.pool is not None:
            sql, args = query.compile_string(engine_type="postgres")
            return [tuple(row) for row in await engine.pool.fetch(sql, *args)]
    return [tuple(row.values()) for row in await engine.run_querystring(query)]


def sqlite_path(url: str) -> str:
    """``sqlite:///var/x.sqlite3`` -> ``var/x.sqlite3``; ``sqlite:////abs`` -> ``/abs``."""
    if not url.startswith("sqlite:///"):
        raise BadDatabaseURL(f"not a SQLite URL: {url!r}")
    return url.removeprefix("sqlite:///")


def make_engine(url: str) -> Engine:
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        path = sqlite_path(url)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers run beside the single writer; it is stored in the file.
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA journal_mode=WAL")
        return PooledSQLiteEngine(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
    if scheme in ("postgres", "postgresql"):
        return PostgresEngine(config={"dsn": url}, extensions=())
    raise BadDatabaseURL(f"unsupported database URL scheme {scheme!r}")


def bind(engine: Engine) -> Engine:
    """Point every table (and Piccolo's migration runner) at ``engine``."""
    piccolo_conf.DB = engine
    for table in (*ALL_TABLES, Migration):
        table._meta.db = engine
    return engine


def current_engine() -> Engine:
    return piccolo_conf.DB


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or current_engine()).engine_type == "sqlite"


async def _no_reset(connection) -> None:
    """Pooled connections carry no session state of ours (no SET, LISTEN or session locks: advisory
    locks are transaction-scoped and the live-update listener has its own connection), so asyncpg's
    reset query after every statement (Piccolo takes a pool connection per query) is pure cost:
    ~80 us per statement measured."""


async def start(engine: Engine, pool_size: int = 10) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=pool_size, reset=_no_reset)
    elif isinstance(engine, PooledSQLiteEngine):
        await engine.start_pool(min(pool_size, SQLITE_READ_CONNECTIONS))


async def stop(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
    elif isinstance(engine, PooledSQLiteEngine):
        await engine.close_pool()
