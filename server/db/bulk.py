"""Many rows in one driver call, on the unit of work's own connection.

Piccolo builds one parameterised statement per insert, converting each value
in Python; the drivers' bulk paths are several times faster: ``executemany``
on SQLite (values still pass through the adapters Piccolo registers, so they
are stored exactly as Piccolo stores them) and ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

from server.db.engine import current_engine, is_sqlite


async def insert_rows(table: str, columns: tuple[str, ...], records: list[tuple], connection=None) -> None:
    """Insert ``records`` (tuples in ``columns`` order) into ``table`` inside the current transaction."""
    if not records:
        return
    if connection is None:
        connection = current_engine().current_transaction.get().connection
    if is_sqlite():
        names = ", ".join(f'"{c}"' for c in columns)
        marks = ", ".join("?" * len(columns))
        cursor = await connection.executemany(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', records)
        await cursor.close()
    else:
        await connection.copy_records_to_table(table, records=records, columns=list(columns))
