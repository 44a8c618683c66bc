"""Choose and bind the database engine from a URL.

SQLite (a file, the embedded default) or PostgreSQL through asyncpg. Every
table, and Piccolo's migration table, is bound to the one engine so tests can
point the whole application at a fresh database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import urlparse

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from server.db import piccolo_conf
from server.db.registry import ALL_TABLES

SQLITE_BUSY_TIMEOUT_S = 30


class BadDatabaseURL(ValueError):
    pass


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
        return SQLiteEngine(path=path, timeout=SQLITE_BUSY_TIMEOUT_S)
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


async def start(engine: Engine, pool_size: int = 10) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=pool_size)


async def stop(engine: Engine) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
