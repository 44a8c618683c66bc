"""Plain SQL on the unit of work's own connection, for set-based work over many rows.

Piccolo builds a query object per statement and converts every value in
Python: for an ``IN`` list of thousands of ids that costs more than running
the statement (bench/place_accounts.py). These helpers take SQL written with
``?`` placeholders (rewritten to ``$n`` for PostgreSQL), run it on the current
transaction's connection, and return rows as tuples. Select UUID columns as
``CAST(x AS TEXT)`` to get plain strings on both engines (no converters).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from server.db.engine import current_engine, is_sqlite

#: Values per statement: SQLite allows 32,766 parameters, PostgreSQL 32,767.
CHUNK = 5_000
T = TypeVar("T")
_MARK = re.compile(r"\?")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def marks(n: int) -> str:
    """``?, ?, ?`` for an ``IN (...)`` list of ``n`` values."""
    return ", ".join("?" * n)


def _connection():
    tx = current_engine().current_transaction.get()
    if tx is None:
        raise RuntimeError("direct SQL runs inside unit_of_work()")
    return tx.connection


def _pg(sql: str) -> str:
    counter = iter(range(1, 1_000_000))
    return _MARK.sub(lambda _: f"${next(counter)}", sql)


async def fetch(sql: str, args: Sequence[Any] = ()) -> list[tuple]:
    conn = _connection()
    if is_sqlite():
        cursor = await conn.execute(sql, list(args))
        try:
            rows = await cursor.fetchall()
        finally:
            await cursor.close()
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in rows]
    return [tuple(r) for r in await conn.fetch(_pg(sql), *args)]


async def execute(sql: str, args: Sequence[Any] = ()) -> None:
    conn = _connection()
    if is_sqlite():
        cursor = await conn.execute(sql, list(args))
        await cursor.close()
    else:
        await conn.execute(_pg(sql), *args)


async def execute_many(sql: str, rows: Sequence[Sequence[Any]]) -> None:
    if not rows:
        return
    conn = _connection()
    if is_sqlite():
        cursor = await conn.executemany(sql, [list(r) for r in rows])
        await cursor.close()
    else:
        await conn.executemany(_pg(sql), rows)


def in_lists(column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
    """``column IN (...)`` conditions covering ``values``, with their arguments.

    PostgreSQL gets one ``column = ANY(?)`` with an array (one plan, however
    many values); SQLite, which has no arrays, an ``IN`` list per chunk.
    """
    if not values:
        return
    if is_sqlite():
        for chunk in chunks(values):
            yield f"{column} IN ({marks(len(chunk))})", list(chunk)
    else:
        yield f"{column} = ANY(?)", [list(values)]
