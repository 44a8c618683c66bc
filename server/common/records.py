"""The storage steps every synced table shares: stamp, fetch in scope, list, patch, tombstone.

Feature services validate and decide; these functions only read and write.
Every write takes a fresh commit-ordered version (``server.db.clock``), tells
sync what it changed (``server.sync.changes``) and must run inside
``unit_of_work()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import msgspec
from piccolo.table import Table

from server.common.errors import Conflict, Invalid, NotFound, PreconditionFailed
from server.common.keyset import after, clamp_limit, decode_cursor, encode_cursor
from server.common.time import utcnow
from server.db.clock import next_version, next_versions
from server.db.direct import execute_many
from server.db.ids import new_id
from server.sync import changes as sync


async def get_visible(table: type[Table], condition, record_id: uuid.UUID, what: str) -> dict:
    """The live row with ``record_id`` if the caller's scope covers it, else ``NotFound``.

    Rows outside the scope answer exactly like rows that do not exist.
    """
    row = await table.select().where(
        condition & (table._meta.primary_key == record_id) & table.deleted_at.is_null()  # type: ignore[attr-defined]
    ).first()
    if row is None:
        raise NotFound(f"{what} not found")
    return row


async def insert_record(table: type[Table], org_id: uuid.UUID, values: dict[str, Any],
                        record_id: uuid.UUID | None = None) -> dict:
    """Insert a row with server-owned columns stamped; a taken id is a ``Conflict``."""
    record_id = record_id or new_id()
    if await table.exists().where(table._meta.primary_key == record_id):
        raise Conflict(f"id {record_id} is already taken", code="id_taken", field="id")
    now = utcnow()
    row = {**values, "id": record_id, "org_id": org_id, "created_at": now, "updated_at": now,
           "deleted_at": None, "version": await next_version(org_id)}
    await table.insert(table(**row))
    stored = await table.select().where(table._meta.primary_key == record_id).first()
    await sync.written(table._meta.tablename, None, stored)
    return stored


async def update_record(table: type[Table], row: dict, changes: dict[str, Any],
                        expected_version: int | None = None) -> dict:
    """Apply ``changes`` (column name -> value) to ``row``; no-op changes keep the version."""
    if expected_version is not None and expected_version != row["version"]:
        raise PreconditionFailed(
            f"record is at version {row['version']}, not {expected_version}",
            extra={"current_version": row["version"]},
        )
    changes = {k: v for k, v in changes.items() if row.get(k) != v}
    if not changes:
        return row
    version = await next_version(row["org_id"])
    stamp = {"updated_at": utcnow(), "version": version,
             "field_versions": _field_versions(row, changes, version)}
    columns = {table._meta.get_column_by_name(k): v for k, v in {**changes, **stamp}.items()}
    # Write only over the version that was read: a concurrent writer that got in
    # between (READ COMMITTED on PostgreSQL) makes this match nothing instead of
    # silently overwriting its change.
    written = await table.update(columns).where(
        (table._meta.primary_key == row["id"]) & (table.version == row["version"])  # type: ignore[attr-defined]
    ).returning(table._meta.primary_key)
    if not written:
        raise PreconditionFailed("the record changed while this request ran; fetch it and retry",
                                 code="concurrent_update")
    after = {**row, **changes, **stamp}
    await sync.written(table._meta.tablename, row, after)
    return after


async def update_records(table: type[Table], org_id: uuid.UUID,
                         updates: Sequence[tuple[dict, dict[str, Any]]]) -> list[dict]:
    """:func:`update_record` for many rows of one org at once: what a batch of results writes.

    One block of versions, one statement per shape of change, one sync poke.
    The caller has read ``rows`` in this transaction under a lock (SQLite's
    write lock, ``FOR UPDATE`` on PostgreSQL), so no version check is needed;
    changes must not touch the columns that decide who holds a row (no move
    bookkeeping here). Returns the rows as written (no-op changes keep theirs).
    """
    out: list[dict] = []
    real = [(row, {k: v for k, v in changes.items() if row.get(k) != v}) for row, changes in updates]
    versions = iter(await next_versions(org_id, sum(1 for _, c in real if c)) if any(c for _, c in real) else ())
    now = utcnow()
    shapes: dict[tuple[str, ...], list[tuple]] = {}
    for row, changes in real:
        if not changes:
            out.append(row)
            continue
        version = next(versions)
        written = {**changes, "updated_at": now, "version": version,
                   "field_versions": _field_versions(row, changes, version)}
        columns = tuple(written)
        shapes.setdefault(columns, []).append((*written.values(), row["id"]))
        out.append({**row, **written})
    name = table._meta.tablename
    for columns, params in shapes.items():
        assignments = ", ".join(f'"{c}" = ?' for c in columns)
        await execute_many(f'UPDATE "{name}" SET {assignments} WHERE id = ?', params)
    if shapes:
        changed = [r for r, (_, c) in zip(out, real, strict=True) if c]
        sync.poke_rows(org_id, await sync.holders_of(name, org_id, changed), max(r["version"] for r in changed))
    return out


def _field_versions(row: dict, changes: dict[str, Any], version: int) -> str:
    """The row's column -> version map with ``changes`` stamped at ``version``."""
    known = row.get("field_versions") or "{}"
    versions = msgspec.json.decode(known) if isinstance(known, (str, bytes)) else dict(known)
    versions.update(dict.fromkeys(changes, version))
    return msgspec.json.encode(versions).decode()


def changed_since(row: dict, version: int) -> set[str]:
    """Columns of ``row`` written after ``version`` (field-level conflict detection)."""
    known = row.get("field_versions") or "{}"
    versions = msgspec.json.decode(known) if isinstance(known, (str, bytes)) else dict(known)
    return {name for name, v in versions.items() if v > version}


async def tombstone(table: type[Table], row: dict) -> None:
    """Delete as sync needs it: keep the row, mark it deleted, give it a new version."""
    now = utcnow()
    version = await next_version(row["org_id"])
    await table.update({
        table.deleted_at: now,  # type: ignore[attr-defined]
        table.updated_at: now,  # type: ignore[attr-defined]
        table.version: version,  # type: ignore[attr-defined]
    }).where(table._meta.primary_key == row["id"])
    await sync.written(table._meta.tablename, None, {**row, "deleted_at": now, "version": version})


class PageQuery(NamedTuple):
    """What a keyset page reads: live rows after the cursor, in sort order."""

    where: Any
    column: Any
    descending: bool
    limit: int


def page_query(table: type[Table], condition, *, sorts: dict[str, str], sort: str,
               limit: int | None, cursor: str | None) -> PageQuery:
    """The condition, sort column, direction and limit of one keyset page (shared by every list)."""
    if sort not in sorts:
        raise Invalid(f"sort must be one of {', '.join(sorts)}", field="sort")
    limit = clamp_limit(limit)
    descending = sort.startswith("-")
    column = table._meta.get_column_by_name(sorts[sort])
    where = condition & table.deleted_at.is_null()  # type: ignore[attr-defined]
    if cursor:
        value, last_id = decode_cursor(cursor, sort)
        where = where & after(column, table._meta.primary_key, value, last_id, descending)
    return PageQuery(where, column, descending, limit)


async def list_page(table: type[Table], condition, *, sorts: dict[str, str], sort: str,
                    limit: int | None, cursor: str | None) -> tuple[list[dict], str | None]:
    """One keyset page of live rows matching ``condition`` in ``sort`` order.

    ``sorts`` maps public sort names (``name``, ``-updated_at``) to columns.
    """
    q = page_query(table, condition, sorts=sorts, sort=sort, limit=limit, cursor=cursor)
    rows = await table.select().where(q.where).order_by(
        q.column, table._meta.primary_key, ascending=not q.descending).limit(q.limit + 1)
    more = len(rows) > q.limit
    rows = rows[:q.limit]
    next_cursor = encode_cursor(sort, rows[-1][sorts[sort]], rows[-1]["id"]) if more else None
    return rows, next_cursor
