"""Pulls: the changes in a device's scope since its cursor, in pages.

A *session* brings a device from the version it holds (``since``; 0 for a first
or replacement pull) up to ``target``, the organisation's version when the
session began. Versions are taken in commit order (``server.db.clock``), so
every change at or below ``target`` is already committed and none can appear
behind the cursor later. Each page's cursor says where the next page starts;
a device that crashes resumes from the last cursor it saved, with no gap and no
duplicate. Per table the session reads up to three streams:

``rows``     (full pull)   the live rows in scope, by id;
``changes``  (incremental) rows in scope changed in (since, target], by version:
             live rows are ``upserted``, tombstones ``deleted`` (a merged-away
             row is ``removed`` with ``merged_into``);
``moves``    (incremental) rows whose holders changed in (since, target] and that
             the device may hold but no longer sees: ``removed``. For the users
             table, the directory keys are compared instead.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from piccolo.columns.combination import WhereRaw

from server.access.scope import Scope
from server.common.errors import Gone, Invalid
from server.common.time import utcnow
from server.db.engine import current_engine, is_sqlite
from server.orgs.tables import OrgClock
from server.sync import cursor as cursors
from server.sync.changes import decode_holders
from server.sync.checksum import BUCKETS
from server.sync.registry import Kind, SyncedTable, tables_for
from server.sync.session import ScopeKeys, recall_scope, remember_scope, scope_keys
from server.sync.tables import SyncMove, SyncMutation
from server.sync.wire import encoder, stored_encoder, to_millis

DEFAULT_PAGE_ROWS = 1000
MAX_PAGE_ROWS = 5000
#: A page stops growing once its records reach this many bytes of JSON.
MAX_PAGE_BYTES = 2 * 1024 * 1024
ROWS, CHANGES, MOVES = "rows", "changes", "moves"
FULL_STREAMS = (ROWS,)
DELTA_STREAMS = (CHANGES, MOVES)


class TableChanges(msgspec.Struct):
    #: Whole records (built as pre-encoded JSON, ``msgspec.Raw``, by the pull).
    upserted: list[dict[str, Any]] = msgspec.field(default_factory=list)
    deleted: list[str] = msgspec.field(default_factory=list)
    removed: list[str] = msgspec.field(default_factory=list)
    #: Removed because merged: loser id -> surviving id (rewrite local references).
    merged_into: dict[str, str] = msgspec.field(default_factory=dict)


class PullPage(msgspec.Struct):
    cursor: str
    has_more: bool
    server_time: int
    #: True on the first page of a full pull: the device replaces its copy of the
    #: scope (keeping unpushed changes) with what this session delivers.
    reset: bool
    changes: dict[str, TableChanges]


class _Page:
    def __init__(self, rows: int, size: int) -> None:
        self.rows_left, self.bytes_left = rows, size
        self.changes: dict[str, TableChanges] = {}
        #: Ids upserted in this page (a user can both change and join the directory).
        self.seen: set[str] = set()

    def full(self) -> bool:
        return self.rows_left <= 0 or self.bytes_left <= 0

    def of(self, table: str) -> TableChanges:
        return self.changes.setdefault(table, TableChanges())

    def take(self, n_bytes: int) -> None:
        self.rows_left -= 1
        self.bytes_left -= n_bytes


async def _clock(org_id: uuid.UUID) -> tuple[int, int]:
    row = await OrgClock.select(OrgClock.version, OrgClock.purged_version).where(OrgClock.id == org_id).first()
    return (int(row["version"]), int(row["purged_version"])) if row else (0, 0)


async def pull(scope: Scope, device_id: uuid.UUID, secret: bytes, token: str | None, schema_version: int,
               limit: int | None = None, *, buckets: dict[str, list[int]] | None = None, max_bytes: int = MAX_PAGE_BYTES) -> PullPage:
    """One page of the device's pull session (see the module docstring).

    With ``buckets`` and no cursor, the session is a repair: a full pull of only
    those id buckets of those tables (after a checksum mismatch). Its last
    cursor is not a position in the change log: keep the cursor you had.
    """
    principal = scope.principal
    limit = DEFAULT_PAGE_ROWS if limit is None else limit
    if not 1 <= limit <= MAX_PAGE_ROWS:
        raise Invalid(f"limit must be between 1 and {MAX_PAGE_ROWS}", field="limit")
    keys = scope_keys(scope)
    head, purged = await _clock(scope.org_id)
    cur = cursors.decode(token, secret, org_id=scope.org_id, user_id=principal.user_id) if token else None
    old_keys: ScopeKeys | None = None
    if cur is None:
        cur = cursors.Cursor(cursors.FORMAT, str(scope.org_id), str(principal.user_id), head, 0, "",
                             buckets=_check_buckets(buckets, schema_version))
    else:
        if cur.since and cur.since < purged:
            raise Gone("changes since this cursor are no longer kept; pull again from the start "
                       "(cursor: null), keeping unpushed changes", code="cursor_expired", field="cursor")
        if cur.since:
            old_keys = await recall_scope(cur.scope)
            if old_keys is None or old_keys.members != keys.members:
                raise Gone("your team changed; pull again from the start (cursor: null)",
                           code="cursor_expired", field="cursor", extra={"reason": "scope_changed"})
        if cur.buckets is not None and cur.done:
            raise Invalid("a repair (buckets) pull has ended; go on with the cursor you had before it",
                          field="cursor", code="repair_cursor")
        if cur.done:  # a finished session: start the next one from where it ended
            cur = msgspec.structs.replace(cur, target=head)
    scope_id = await remember_scope(scope.org_id, keys, known=cur.scope or None)
    reset = cur.since == 0 and cur.table == 0 and cur.stream == 0 and cur.key is None
    tables = tables_for(schema_version)
    if cur.buckets is not None:
        tables = tuple(t for t in tables if t.name in cur.buckets)
    # Most pulls find nothing new: skip the tables with no change in the window at all. (The cursor
    # keeps indexes into the unfiltered list: a table can fall out of the busy set between pages.)
    busy = {t.name for t in tables} if not cur.since else await _busy_tables(scope.org_id, cur.since,
                                                                              cur.target, tables)
    page = _Page(limit, max_bytes)
    position = (cur.table, cur.stream, cur.key)
    while position[0] < len(tables) and not page.full():
        spec = tables[position[0]]
        streams = FULL_STREAMS if cur.since == 0 else DELTA_STREAMS
        if position[1] >= len(streams) or spec.name not in busy:
            position = (position[0] + 1, 0, None)
            continue
        stream = streams[position[1]]
        key, finished = await _read(stream, spec, scope, device_id, cur, old_keys, schema_version, position[2],
                                    page)
        position = (position[0], position[1] + 1, None) if finished else (position[0], position[1], key)
    has_more = position[0] < len(tables)
    if has_more:
        nxt = msgspec.structs.replace(cur, table=position[0], stream=position[1], key=position[2], scope=scope_id)
    else:
        nxt = cursors.Cursor(cursors.FORMAT, cur.org_id, cur.user_id, cur.target, cur.target, scope_id,
                             buckets=cur.buckets)
    changes = {name: c for name, c in page.changes.items() if c.upserted or c.deleted or c.removed}
    return PullPage(cursor=cursors.encode(nxt, secret), has_more=has_more, server_time=to_millis(utcnow()),
                    reset=reset, changes=changes)


async def _busy_tables(org_id: uuid.UUID, since: int, target: int, tables: tuple[SyncedTable, ...]) -> set[str]:
    """Tables with a row change or a move in (since, target], in one round trip (none when equal)."""
    if target <= since or not tables:
        return set()
    parts, args = [], []
    for spec in tables:
        parts.append(f"SELECT '{spec.name}' AS t WHERE EXISTS (SELECT 1 FROM {spec.table._meta.tablename} "
                     "WHERE org_id = {} AND version > {} AND version <= {})")
        args += [org_id, since, target]
    parts.append("SELECT DISTINCT table_name AS t FROM sync_moves WHERE org_id = {} AND version > {} AND version <= {}")
    args += [org_id, since, target]
    rows = await SyncMove.raw(" UNION ".join(parts), *args)
    return {r["t"] for r in rows}


async def _read(stream: str, spec: SyncedTable, scope: Scope, device_id: uuid.UUID, cur: cursors.Cursor,
                old_keys: ScopeKeys | None, schema_version: int, key: Any, page: _Page) -> tuple[Any, bool]:
    """Fill ``page`` from one stream; return (where to resume, whether the stream is done)."""
    if stream == MOVES:
        if spec.name == "users":
            await _directory(spec, scope, cur, old_keys, schema_version, page)
            return None, True
        return await _moves(spec, scope, cur, old_keys, key, page)
    table = spec.table
    pk = table._meta.primary_key
    columns = spec.columns_for(schema_version)
    selected = [table._meta.get_column_by_name(c) for c in columns]
    selected.append(table.deleted_at)  # type: ignore[attr-defined]
    if "merged_into_id" not in columns and any(c._meta.name == "merged_into_id" for c in table._meta.columns):
        selected.append(table._meta.get_column_by_name("merged_into_id"))
    where = spec.scope(scope) & (table.version <= cur.target)  # type: ignore[attr-defined]
    if stream == ROWS:
        where = where & table.deleted_at.is_null()  # type: ignore[attr-defined]
        if key is not None:
            where = where & (pk > uuid.UUID(key))
        if cur.buckets is not None:
            where = where & _in_buckets(cur.buckets.get(spec.name, []))
        order = [pk]
    else:
        where = where & (table.version > cur.since)  # type: ignore[attr-defined]
        if key is not None:
            version, last_id = key
            where = where & ((table.version > version)  # type: ignore[attr-defined]
                             | ((table.version == version) & (pk > uuid.UUID(last_id))))  # type: ignore[attr-defined]
        order = [table.version, pk]  # type: ignore[attr-defined]
    want = page.rows_left
    rows, encode = await _fetch(table.select(*selected).where(where).order_by(*order).limit(want + 1), columns)
    own = await _own_writes(spec, device_id, rows) if stream == CHANGES else set()
    out = page.of(spec.name)
    last = None
    used = 0
    for row in rows[:want]:
        if page.full():
            break
        record_id, version, deleted_at, merged_into, source = row
        if (record_id, version) in own:
            pass  # this device wrote it and got it back in its push response: no echo
        elif deleted_at is None:
            # Encoded once: the size counts against the page, and the bytes go out as they are.
            record = msgspec.Raw(msgspec.json.encode(encode(source)))
            out.upserted.append(record)  # type: ignore[arg-type]
            page.take(len(record))
            page.seen.add(record_id)
        elif merged_into:
            out.removed.append(record_id)
            out.merged_into[record_id] = str(merged_into)
            page.take(80)
        else:
            out.deleted.append(record_id)
            page.take(40)
        last, used = row, used + 1
    if last is None:
        return key, not rows
    done = used == len(rows)  # everything fetched was used, and there was no extra row
    return (last[0] if stream == ROWS else [last[1], last[0]]), done


#: A fetched row: (id as text, version, deleted_at, merged_into_id, the row to encode).
Fetched = tuple[str, int, Any, Any, Any]


async def _fetch(query, columns: dict[str, Kind]) -> tuple[list[Fetched], Callable[[Any], dict]]:
    """Run a pull query. On SQLite the rows skip Piccolo's per-value converters (stored text and
    numbers go straight to wire values); on PostgreSQL asyncpg's values are encoded as they come."""
    engine = current_engine()
    if is_sqlite(engine):
        names = list(columns)
        at = {n: i for i, n in enumerate(names)}
        i_id, i_version, i_deleted = at["id"], at["version"], len(names)
        i_merged = at.get("merged_into_id", len(names) + 1)
        sql, args = query.querystrings[0].compile_string(engine_type="sqlite")
        raw = await engine.fetch_plain(sql, args)
        width = len(raw[0]) if raw else 0
        rows = [(t[i_id], t[i_version], t[i_deleted], t[i_merged] if i_merged < width else None, t) for t in raw]
        return rows, stored_encoder(columns)
    return [(str(r["id"]), r["version"], r["deleted_at"], r.get("merged_into_id"), r) for r in await query], \
        encoder(columns)


async def _own_writes(spec: SyncedTable, device_id: uuid.UUID, rows: list[Fetched]) -> set[tuple[str, int]]:
    """The (id, version) pairs among ``rows`` that this device's own pushes produced."""
    if not rows:
        return set()
    lo, hi = rows[0][1], rows[-1][1]
    mine = await SyncMutation.select(SyncMutation.row_id, SyncMutation.version).where(
        (SyncMutation.device_id == device_id) & (SyncMutation.table_name == spec.name)
        & (SyncMutation.version >= lo) & (SyncMutation.version <= hi)
    )
    return {(str(r["row_id"]), r["version"]) for r in mine}


def _check_buckets(buckets: dict[str, list[int]] | None, schema_version: int) -> dict[str, list[int]] | None:
    if buckets is None:
        return None
    known = {t.name for t in tables_for(schema_version)}
    for name, numbers in buckets.items():
        if name not in known:
            raise Invalid(f"no synced table {name!r}", field="buckets", code="unknown_table")
        if any(not 0 <= b < BUCKETS for b in numbers):
            raise Invalid(f"buckets are numbered 0 to {BUCKETS - 1}", field="buckets")
    return {name: sorted(set(numbers)) for name, numbers in buckets.items()}


def _in_buckets(numbers: list[int]) -> WhereRaw:
    """Rows whose id ends in one of these buckets (the last two hex digits; see ``checksum``)."""
    if not numbers:
        return WhereRaw("1 = 0")
    marks = ", ".join("{}" for _ in numbers)
    return WhereRaw(f"lower(substr(CAST(id AS TEXT), 35, 2)) IN ({marks})", *[f"{b:02x}" for b in numbers])


#: Move records read per round while looking for rows that left the scope.
MOVE_BATCH = 1000


async def _moves(spec: SyncedTable, scope: Scope, cur: cursors.Cursor, old_keys: ScopeKeys | None, key: Any,
                 page: _Page) -> tuple[Any, bool]:
    if scope.members is None or old_keys is None or old_keys.members is None:
        return None, True  # admins see every row: nothing leaves their scope
    members = set(old_keys.members)
    out = page.of(spec.name)
    table = spec.table
    while not page.full():
        where = ((SyncMove.org_id == scope.org_id) & (SyncMove.table_name == spec.name)
                 & (SyncMove.version > cur.since) & (SyncMove.version <= cur.target))
        if key is not None:
            where = where & (SyncMove.id > key)
        batch = min(MOVE_BATCH, max(page.rows_left, 1))
        moves = await SyncMove.select(SyncMove.id, SyncMove.row_id, SyncMove.holders).where(where) \
            .order_by(SyncMove.id).limit(batch)
        if not moves:
            return key, True
        key = moves[-1]["id"]
        held = {m["row_id"] for m in moves if members & decode_holders(m["holders"])}
        if held:
            visible = await table.select(table._meta.primary_key).where(
                spec.scope(scope) & table._meta.primary_key.is_in(sorted(held))
            )
            for row_id in sorted(held - {r["id"] for r in visible}, key=str):
                out.removed.append(str(row_id))
                page.take(40)
        if len(moves) < batch:
            return key, True
    return key, False


async def _directory(spec: SyncedTable, scope: Scope, cur: cursors.Cursor, old_keys: ScopeKeys | None,
                     schema_version: int, page: _Page) -> None:
    """Users entering or leaving the caller's directory (team changes)."""
    if scope.directory is None or old_keys is None or old_keys.directory is None:
        return
    now = {str(u) for u in scope.directory}
    before = set(old_keys.directory)
    out = page.of(spec.name)
    out.removed.extend(sorted(before - now))
    gained = sorted(now - before)
    if gained:
        table = spec.table
        columns = spec.columns_for(schema_version)
        encode = encoder(columns)
        rows = await table.select(*[table._meta.get_column_by_name(c) for c in columns]).where(
            spec.scope(scope) & table._meta.primary_key.is_in([uuid.UUID(g) for g in gained])
            & table.deleted_at.is_null() & (table.version <= cur.target)  # type: ignore[attr-defined]
        )
        out.upserted.extend(encode(r) for r in rows if str(r["id"]) not in page.seen)
