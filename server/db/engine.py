"""Choose and bind the database engine from a URL.

SQLite (a file, the embedded default) or PostgreSQL through asyncpg. Every
table, and Piccolo's migration table, is bound to the one engine so tests can
point the whole application at a fresh database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiosqlite
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, dict_factory

from server.db import piccolo_conf
from server.db.registry import ALL_TABLES

SQLITE_BUSY_TIMEOUT_S = 30
#: Kept-open SQLite connections for reads (each is a thread in aiosqlite).
SQLITE_READ_CONNECTIONS = 4


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
    """

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(path=path, **kwargs)
        self._idle: asyncio.Queue | None = None
        self._all: list[aiosqlite.Connection] = []
        self._plain: aiosqlite.Connection | None = None
        self._plain_lock = asyncio.Lock()

    async def fetch_plain(self, sql: str, args: list[Any]) -> list[tuple]:
        """Rows as tuples of stored values (text, numbers), without Piccolo's per-value converters.

        For bulk reads that turn rows straight into wire records (sync pulls):
        building ``UUID`` and ``datetime`` objects only to turn them back into
        text and numbers cost more than reading the rows. Parameters still go
        through the adapters Piccolo registers, so comparisons match what it stored.
        """
        async with self._plain_lock:
            if self._plain is None:
                kwargs = {**self.connection_kwargs, "detect_types": 0}
                self._plain = await aiosqlite.connect(**kwargs)
            return list(await self._plain.execute_fetchall(sql, args))

    async def start_pool(self, size: int) -> None:
        self._idle = asyncio.Queue()
        for _ in range(size):
            conn = await aiosqlite.connect(**self.connection_kwargs)
            conn.row_factory = dict_factory  # type: ignore[assignment]
            await conn.execute("PRAGMA foreign_keys = 1")
            self._all.append(conn)
            self._idle.put_nowait(conn)

    async def close_pool(self) -> None:
        self._idle = None
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
