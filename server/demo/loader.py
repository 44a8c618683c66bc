"""Write generated demo rows to the bound database.

Rows go in chunks of ``CHUNK_ROWS``, each chunk its own unit of work holding
one version from the organisation's clock, so the demo never holds the SQLite
write lock for long and a sync pull sees it arrive in commit order.

Piccolo's ``Table.insert(*objects)`` costs about 230 µs a row here (object
construction and query rendering), which would put 100,000 activities at
over 20 s. The driver's bulk paths on the unit of work's own connection are
5-10x faster: ``executemany`` on SQLite (the values pass through the adapters
Piccolo registers with ``sqlite3``, so they are stored exactly as Piccolo
stores them) and binary ``COPY`` on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import groupby

from piccolo.table import Table

from server.db.bulk import insert_rows
from server.db.clock import next_version
from server.db.registry import ALL_TABLES
from server.db.tx import unit_of_work
from server.demo.records import DemoData, Rows
from server.orgs.service import create_org

CHUNK_ROWS = 5000
#: Progress step per table (adjacent tables of one step are reported together).
STEP_OF = {
    "users": "people", "regions": "people", "teams": "people", "team_memberships": "people",
    "manager_links": "people", "territories": "territories", "territory_owners": "territories",
    "accounts": "accounts", "territory_accounts": "accounts", "contacts": "contacts",
    "opportunities": "pipeline", "leads": "pipeline", "opportunity_stage_changes": "pipeline",
    "activities": "activities", "tasks": "work", "appointments": "work",
}

Progress = Callable[[str, int, int], None]
_Piece = tuple[type[Table], Rows, int, int]  # table, rows, start, stop


def _tables() -> dict[str, type[Table]]:
    return {t._meta.tablename: t for t in ALL_TABLES}


def _is_synced(table: type[Table]) -> bool:
    return any(c._meta.db_column_name == "version" for c in table._meta.columns)


def check_columns(data: DemoData) -> None:
    """Fail before writing anything if a generator names a column the table lacks."""
    tables = _tables()
    for name, rows in data.tables.items():
        if name not in tables:
            raise ValueError(f"demo rows for unknown table {name!r}")
        known = {c._meta.db_column_name for c in tables[name]._meta.columns}
        unknown = set(rows.columns) - known
        if unknown:
            raise ValueError(f"{name}: unknown columns {sorted(unknown)}")


def _batches(pieces: list[Rows], tables: dict[str, type[Table]]) -> list[list[_Piece]]:
    """Slice a step's tables into chunks of at most CHUNK_ROWS rows (small tables share one)."""
    batches: list[list[_Piece]] = [[]]
    room = CHUNK_ROWS
    for rows in pieces:
        start = 0
        while start < len(rows.rows):
            if room == 0:
                batches.append([])
                room = CHUNK_ROWS
            stop = min(len(rows.rows), start + room)
            batches[-1].append((tables[rows.table], rows, start, stop))
            room -= stop - start
            start = stop
    return [b for b in batches if b]


async def write_demo(data: DemoData, progress: Progress | None = None) -> dict[str, int]:
    """Create the organisation and insert every generated row; return rows per table."""
    check_columns(data)
    config, org_id = data.config, data.org_id
    tables = _tables()
    async with unit_of_work():
        await create_org(config.org_name, slug=config.slug, timezone=config.timezone,
                         base_currency=config.currency, org_id=org_id)
    if progress:
        progress("organisation", 1, 1)

    # Tables stay in the generator's foreign-key order; only adjacent ones are grouped.
    for step, group in groupby(data.tables.values(), key=lambda r: STEP_OF.get(r.table, r.table)):
        pieces = list(group)
        total, done = sum(len(r) for r in pieces), 0
        for batch in _batches(pieces, tables):
            async with unit_of_work() as tx:
                version = None
                if any(_is_synced(table) for table, *_ in batch):
                    version = await next_version(org_id)
                for table, rows, start, stop in batch:
                    records = rows.rows[start:stop]
                    columns = rows.columns
                    if _is_synced(table):
                        columns = ("version", *columns)
                        records = [(version, *r) for r in records]
                    await insert_rows(rows.table, columns, records, tx.connection)
            done += sum(stop - start for _, _, start, stop in batch)
            if progress:
                progress(step, done, total)
    return {"organisations": 1, **data.counts()}
