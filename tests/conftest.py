"""Test lanes: every database test runs on SQLite and, when enabled, on PostgreSQL.

* SQLite always runs: a migrated template file is copied for each test.
* PostgreSQL runs when ``FIELDSALES_TEST_PG_URL`` is set or ``CI=true`` (default
  server ``postgresql://postgres@127.0.0.1:5432``). Each test gets a fresh
  database cloned from a migrated template. Outside CI an unreachable server
  skips the lane with a message; inside CI it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

import server.db  # noqa: F401  (sets PICCOLO_CONF)
from server.db.engine import bind, make_engine, start, stop
from server.db.migrate import migrate

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_SERVER = os.environ.get("FIELDSALES_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
PG_ENABLED = IN_CI or bool(os.environ.get("FIELDSALES_TEST_PG_URL")) or bool(
    os.environ.get("FIELDSALES_TEST_PG")
)
RUN_ID = uuid.uuid4().hex[:8]
PG_TEMPLATE = f"fs_tpl_x_{RUN_ID}"  # every database of a run ends in _RUN_ID

ENGINES = ["sqlite", "postgres"]


class TestDatabase:
    """A fresh, migrated database bound as the application's engine."""

    __test__ = False

    def __init__(self, kind: str, url: str) -> None:
        self.kind = kind
        self.url = url

    @property
    def is_sqlite(self) -> bool:
        return self.kind == "sqlite"


def _pg_url(dbname: str) -> str:
    return f"{PG_SERVER.rstrip('/')}/{dbname}"


async def _pg_admin() -> asyncpg.Connection:
    return await asyncpg.connect(_pg_url("postgres"), timeout=5)


def run_aside(coro):
    """Run a coroutine to completion on its own loop in a worker thread.

    Session templates are built this way so that sync fixtures can build them
    lazily from inside the async ``db`` fixture.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _migrate_at(url: str) -> None:
    engine = bind(make_engine(url))
    await start(engine, pool_size=2)
    try:
        await migrate()
    finally:
        await stop(engine)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tpl") / "template.sqlite3"
    run_aside(_migrate_at(f"sqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    if not PG_ENABLED:
        pytest.skip("PostgreSQL lane off: set FIELDSALES_TEST_PG=1 (CI=true turns it on)")
    error = run_aside(_create_pg_template())
    if error:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable at {PG_SERVER} in CI: {error}")
        pytest.skip(f"PostgreSQL unreachable at {PG_SERVER}: {error}")
    yield PG_TEMPLATE
    run_aside(_drop_run_databases())


async def _create_pg_template() -> str | None:
    try:
        admin = await _pg_admin()
    except (OSError, asyncpg.PostgresError) as exc:
        return str(exc)
    await admin.execute(f'CREATE DATABASE "{PG_TEMPLATE}"')
    await admin.close()
    tpl = await asyncpg.connect(_pg_url(PG_TEMPLATE))
    try:
        # PostGIS serves the GIS interop; test databases inherit it from the template.
        if await tpl.fetchval("SELECT count(*) FROM pg_available_extensions WHERE name = 'postgis'"):
            await tpl.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    finally:
        await tpl.close()
    await _migrate_at(_pg_url(PG_TEMPLATE))
    return None


async def _drop_run_databases() -> None:
    admin = await _pg_admin()
    for (name,) in await admin.fetch(
        "SELECT datname FROM pg_database WHERE datname LIKE $1", f"fs_%_{RUN_ID}%"
    ):
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(params=ENGINES)
def engine_kind(request) -> str:
    return request.param


@pytest.fixture
async def db(engine_kind, request, tmp_path) -> AsyncIterator[TestDatabase]:
    if engine_kind == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        template = request.getfixturevalue("pg_template")
        name = f"fs_t{uuid.uuid4().hex[:10]}_{RUN_ID}"
        admin = await _pg_admin()
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        await admin.close()
        url = _pg_url(name)
    engine = bind(make_engine(url))
    await start(engine, pool_size=5)
    try:
        yield TestDatabase(engine_kind, url)
    finally:
        await stop(engine)
        if engine_kind == "postgres":
            admin = await _pg_admin()
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


@pytest.fixture
def settings(db, tmp_path):
    from server.config import load_settings

    return load_settings(database_url=db.url, secret_key="test-secret-" + "x" * 40,
                         data_dir=str(tmp_path / "var"), password_time_cost=1,
                         login_attempts_per_minute=5)


@pytest.fixture
async def client(settings):
    """HTTP requests through the whole Litestar app (ASGI), on the test database.

    The app's lifespan is not run: the ``db`` fixture has bound the engine on
    the test's event loop already (Litestar's AsyncTestClient would run the
    lifespan on another thread's loop, where an asyncpg pool cannot serve the
    test). ``tests/test_server.py`` runs the real lifespan in a real server.
    """
    import httpx

    from server.app import create_app

    transport = httpx.ASGITransport(app=create_app(settings), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
