"""The SQLAlchemy side: an async engine on the app's PostgreSQL database, PostGIS checks, identifiers.

SQLAlchemy opens its own asyncpg connections (``postgresql+asyncpg://``) to
the database the app uses; the app's Piccolo pool is left alone.
"""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from server.geo.gis.errors import GisError

__all__ = ["NEEDS_POSTGIS", "GisError", "check_identifier", "ensure_postgis", "gis_engine",
           "require_postgis"]

NEEDS_POSTGIS = "GIS publishing needs PostgreSQL with PostGIS"

#: Schema, table and column names we create or accept: plain lower-case SQL identifiers.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def check_identifier(name: str, what: str = "schema") -> str:
    if not isinstance(name, str) or not _IDENTIFIER.match(name):
        raise GisError(f"{what} name {name!r} must be a lower-case SQL identifier "
                       "(letters, digits, underscores)")
    return name


def gis_engine(database_url: str) -> AsyncEngine:
    """An async SQLAlchemy engine on the app's database; GisError on SQLite.

    No pool: a CLI run holds one connection at a time and disposes the engine.
    """
    url = make_url(database_url)
    if url.get_backend_name() not in ("postgresql", "postgres"):  # the app accepts both schemes
        raise GisError(f"{NEEDS_POSTGIS}; this deployment uses {url.get_backend_name()} "
                       "(set FIELDSALES_DATABASE_URL to a PostgreSQL database)")
    return create_async_engine(url.set(drivername="postgresql+asyncpg"), poolclass=NullPool)


async def postgis_version(conn: AsyncConnection) -> str | None:
    return (await conn.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'"))).scalar()


async def ensure_postgis(conn: AsyncConnection) -> str:
    """The PostGIS version, creating the extension if it is missing (needs a privileged role)."""
    version = await postgis_version(conn)
    if version:
        return version
    try:
        async with conn.begin_nested():
            await conn.execute(text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise GisError(
            f"{NEEDS_POSTGIS}: the extension is not installed in this database and could not be "
            f"created ({reason}). Install the PostGIS package for your PostgreSQL server, then run "
            "`CREATE EXTENSION postgis;` as a superuser (or a role allowed to create it) in this "
            "database.") from None
    return await postgis_version(conn) or "?"


async def require_postgis(conn: AsyncConnection) -> str:
    """The PostGIS version, GisError if the extension is not installed (reading needs no DDL)."""
    version = await postgis_version(conn)
    if not version:
        raise GisError("PostGIS is not installed in this database: boundary layers need it "
                       "(`CREATE EXTENSION postgis;`)")
    return version
