"""Pushes: a device's queued mutations, applied exactly once, each with a terminal status.

The batch runs in one transaction that also stores the device's last applied
``mutation_id`` and each mutation's result, so a batch retried after a lost
response applies nothing twice and gets the same answers back. Each mutation
(or ``group`` of mutations) runs inside a savepoint: a rejected one is rolled
back alone, still advances the counter, and never blocks the queue behind it.
Writes go through the feature services, so a push obeys exactly the rules of
the HTTP API (validation, scope, ownership).
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from collections.abc import Iterator
from functools import lru_cache
from itertools import pairwise
from typing import Annotated, Any, Literal

import asyncpg
import msgspec

from server.access.scope import Scope
from server.auth.tables import Device
from server.common.errors import (
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
)
from server.common.records import changed_since
from server.common.time import utcnow
from server.db.bulk import insert_rows
from server.db.engine import is_sqlite
from server.db.tx import savepoint as savepoint_here
from server.db.tx import unit_of_work
from server.sync.registry import BY_NAME, SyncedTable
from server.sync.session import require_device
from server.sync.tables import SyncMutation
from server.sync.wire import check_columns, encoder, to_api_fields, to_millis

log = logging.getLogger("fieldsales.sync")

MAX_MUTATIONS = 500
Status = Literal["applied", "duplicate", "conflict", "rejected"]
#: Database errors that mean "this mutation's data is wrong", not "the database is down".
DATA_ERRORS = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError, asyncpg.DataError)


class Mutation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    mutation_id: Annotated[int, msgspec.Meta(ge=1)]
    table: str
    op: Literal["insert", "update", "delete"]
    id: uuid.UUID
    base_version: Annotated[int, msgspec.Meta(ge=0)] | None = None
    fields: dict[str, Any] | None = None
    group: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class MutationError(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class MutationResult(msgspec.Struct, omit_defaults=True):
    mutation_id: int
    status: Status
    version: int | None = None
    record: dict[str, Any] | None = None
    conflict_fields: list[str] | None = None
    error: MutationError | None = None


class PushResult(msgspec.Struct):
    last_mutation_id: int
    server_time: int
    results: list[MutationResult]


RESULT_COLUMNS = ("org_id", "device_id", "mutation_id", "result", "table_name", "row_id", "version", "created_at")


def _units(mutations: list[Mutation]) -> Iterator[list[Mutation]]:
    """Single mutations, and each group as one unit (its members must be adjacent)."""
    i = 0
    seen: set[str] = set()
    while i < len(mutations):
        group = mutations[i].group
        j = i + 1
        if group is not None:
            if group in seen:
                raise Invalid(f"the mutations of group {group!r} must be adjacent", field="mutations",
                              code="group_not_adjacent")
            seen.add(group)
            while j < len(mutations) and mutations[j].group == group:
                j += 1
        yield mutations[i:j]
        i = j


def check_batch(mutations: list[Mutation]) -> list[list[Mutation]]:
    if len(mutations) > MAX_MUTATIONS:
        raise PayloadTooLarge(f"at most {MAX_MUTATIONS} mutations per push; send the rest in the next one",
                              code="batch_too_large", extra={"max_mutations": MAX_MUTATIONS})
    ids = [m.mutation_id for m in mutations]
    if any(b <= a for a, b in pairwise(ids)):
        raise Invalid("mutation_id must increase through the batch", field="mutations",
                      code="mutation_ids_out_of_order")
    return list(_units(mutations))


async def push(scope: Scope, device_id: uuid.UUID, schema_version: int,
               mutations: list[Mutation]) -> PushResult:
    units = check_batch(mutations)
    async with unit_of_work():
        last = await _lock_device(scope, device_id)
        stored = await _stored_results(device_id, [m.mutation_id for m in mutations if m.mutation_id <= last])
        results: list[MutationResult] = []
        fresh: list[MutationResult] = []
        for run in _runs(units, last):
            if run[0][0].mutation_id <= last:
                results.extend(stored.get(m.mutation_id) or MutationResult(m.mutation_id, "duplicate")
                               for unit in run for m in unit)
                continue
            if len(run) > 1:
                done = await _apply_bulk(scope, schema_version, [unit[0] for unit in run])
            else:
                done = await _apply_unit(scope, schema_version, run[0])
            results.extend(done)
            fresh.extend(done)
        if fresh:
            last = fresh[-1].mutation_id
            tables = {m.mutation_id: m for m in mutations}
            now = utcnow()
            await insert_rows("sync_mutations", RESULT_COLUMNS, [
                (scope.org_id, device_id, r.mutation_id, msgspec.json.encode(r).decode(),
                 tables[r.mutation_id].table, tables[r.mutation_id].id, r.version, now)
                for r in fresh
            ])
        await Device.update({Device.last_mutation_id: last, Device.last_seen_at: utcnow()}).where(
            Device.id == device_id
        )
    return PushResult(last_mutation_id=last, server_time=to_millis(utcnow()), results=results)


def _bulk_table(unit: list[Mutation]) -> str | None:
    """The table of a plain insert that a set-based writer can take, else None."""
    m = unit[0]
    if len(unit) != 1 or m.op != "insert" or m.group is not None:
        return None
    spec = BY_NAME.get(m.table)
    return m.table if spec is not None and spec.writes is not None and spec.writes.create_many else None


def _runs(units: list[list[Mutation]], last: int) -> Iterator[list[list[Mutation]]]:
    """Consecutive units taken together: replays, or plain inserts into one bulk-capable table."""
    run: list[list[Mutation]] = []
    key: object = None
    for unit in units:
        unit_key = "replay" if unit[0].mutation_id <= last else _bulk_table(unit)
        if run and (unit_key is None or unit_key != key):
            yield run
            run = []
        run.append(unit)
        key = unit_key
        if unit_key is None:
            yield run
            run = []
    if run:
        yield run


async def _apply_bulk(scope: Scope, schema_version: int, run: list[Mutation]) -> list[MutationResult]:
    """Plain inserts into one table through its set-based writer (one savepoint for all)."""
    spec = BY_NAME[run[0].table]
    writes = spec.writes
    assert writes is not None and writes.create_many is not None and writes.insert_type is not None
    results: dict[int, MutationResult] = {}
    items, taken = [], []
    for m in run:
        fields = m.fields or {}
        try:
            check_columns(spec, {k: v for k, v in fields.items() if k != "id"}, schema_version, insert=True)
            items.append(msgspec.convert({**to_api_fields(spec, fields), "id": str(m.id)}, writes.insert_type))
            taken.append(m)
        except DomainError as e:
            results[m.mutation_id] = _rejected(m, e.code, e.message, e.field)
        except msgspec.ValidationError as e:
            results[m.mutation_id] = _rejected(m, "validation_error", str(e), _error_field(str(e)))
    if items:
        savepoint = await savepoint_here()
        try:
            outcomes = await writes.create_many(scope, items)
        except DATA_ERRORS:
            # Something the checks did not foresee: undo, then take them one at a time.
            await savepoint.rollback_to()
            await savepoint.release()
            for m in taken:
                [results[m.mutation_id]] = await _apply_unit(scope, schema_version, [m])
        else:
            await savepoint.release()
            for m, outcome in zip(taken, outcomes, strict=True):
                if isinstance(outcome, DomainError):
                    results[m.mutation_id] = _rejected(m, outcome.code, outcome.message, outcome.field)
                else:
                    row, created = outcome
                    results[m.mutation_id] = _applied(spec, schema_version, m, row,
                                                      "applied" if created else "duplicate")
    return [results[m.mutation_id] for m in run]


async def _lock_device(scope: Scope, device_id: uuid.UUID) -> int:
    """The device's last applied mutation id, with its row locked until commit (one push at a time)."""
    await require_device(scope.principal, device_id)
    if is_sqlite():
        row = await Device.select(Device.last_mutation_id).where(Device.id == device_id).first()
        return int(row["last_mutation_id"])
    rows = await Device.raw("SELECT last_mutation_id FROM devices WHERE id = {} FOR UPDATE", device_id)
    return int(rows[0]["last_mutation_id"])


async def _stored_results(device_id: uuid.UUID, ids: list[int]) -> dict[int, MutationResult]:
    if not ids:
        return {}
    rows = await SyncMutation.select(SyncMutation.mutation_id, SyncMutation.result).where(
        (SyncMutation.device_id == device_id) & SyncMutation.mutation_id.is_in(ids)
    )
    return {r["mutation_id"]: msgspec.json.decode(r["result"], type=MutationResult) for r in rows}


async def _apply_unit(scope: Scope, schema_version: int, unit: list[Mutation]) -> list[MutationResult]:
    savepoint = await savepoint_here()
    results = []
    failed = False
    for m in unit:
        result = await apply_guarded(scope, schema_version, m)
        results.append(result)
        if result.status == "rejected" or (len(unit) > 1 and result.status == "conflict"):
            failed = True
            if len(unit) > 1:
                break
    if not failed:
        await savepoint.release()
        return results
    await savepoint.rollback_to()
    await savepoint.release()
    if len(unit) == 1:
        return results
    # A group applies all-or-nothing: the failing member says why, the others were undone.
    culprit = results[-1]
    undone = MutationError("group_failed", "another mutation of this group failed; nothing of it was applied")
    return [culprit if m.mutation_id == culprit.mutation_id else MutationResult(m.mutation_id, "rejected", error=undone)
            for m in unit]


async def apply_guarded(scope: Scope, schema_version: int, m: Mutation) -> MutationResult:
    try:
        return await _apply(scope, schema_version, m)
    except DomainError as e:
        return _rejected(m, e.code, e.message, e.field)
    except msgspec.ValidationError as e:
        return _rejected(m, "validation_error", str(e), _error_field(str(e)))
    except DATA_ERRORS as e:
        return _rejected(m, "constraint_violation", f"the database refused this record: {type(e).__name__}")


def _rejected(m: Mutation, code: str, message: str, field: str | None = None) -> MutationResult:
    return MutationResult(m.mutation_id, "rejected", error=MutationError(code, message, field))


def _error_field(message: str) -> str | None:
    # msgspec: "Expected `str`, got `int` - at `$.name`"
    marker = "at `$."
    if marker in message:
        return message.split(marker, 1)[1].split("`", 1)[0].split("[", 1)[0] or None
    return None


@lru_cache(maxsize=64)
def _encoder(table: str, schema_version: int):
    return encoder(BY_NAME[table].columns_for(schema_version))


def _applied(spec: SyncedTable, schema_version: int, m: Mutation, row: dict, status: Status = "applied",
             conflict_fields: list[str] | None = None) -> MutationResult:
    record = _encoder(spec.name, schema_version)(row) if row.get("deleted_at") is None else None
    return MutationResult(m.mutation_id, status, version=row["version"], record=record,
                          conflict_fields=conflict_fields)


async def _row(spec: SyncedTable, scope: Scope, record_id: uuid.UUID) -> dict:
    """The row if the caller sees it (tombstones included); ``Forbidden`` / ``NotFound`` otherwise."""
    table = spec.table
    row = await table.select().where(spec.scope(scope) & (table._meta.primary_key == record_id)).first()
    if row is not None:
        return row
    if await table.exists().where((table.org_id == scope.org_id) & (table._meta.primary_key == record_id)):  # type: ignore[attr-defined]
        raise Forbidden(f"this {spec.name} record is outside your scope", code="forbidden")
    raise NotFound(f"no {spec.name} record {record_id}", code="not_found")


async def _apply(scope: Scope, schema_version: int, m: Mutation) -> MutationResult:
    spec = BY_NAME.get(m.table)
    if spec is None or spec.since > schema_version:
        return _rejected(m, "unknown_table", f"no synced table {m.table!r}", "table")
    if spec.writes is None:
        return _rejected(m, "read_only_table", f"{spec.name} is written by the server only", "table")
    fields = m.fields or {}
    if (m.op == "insert" and spec.writes.create is None) or (m.op == "delete" and spec.writes.delete is None):
        return _rejected(m, "operation_not_allowed", f"phones may not {m.op} {spec.name} records", "op")
    if m.op == "insert":
        return await _insert(spec, scope, schema_version, m, fields)
    if m.op == "update":
        return await _update(spec, scope, schema_version, m, fields)
    return await _delete(spec, scope, schema_version, m)


async def _insert(spec: SyncedTable, scope: Scope, schema_version: int, m: Mutation, fields: dict) -> MutationResult:
    check_columns(spec, {k: v for k, v in fields.items() if k != "id"}, schema_version, insert=True)
    data = msgspec.convert({**to_api_fields(spec, fields), "id": str(m.id)}, spec.writes.insert_type)  # type: ignore[union-attr]
    table = spec.table
    if await table.exists().where(table._meta.primary_key == m.id):
        try:
            row = await _row(spec, scope, m.id)
        except (Forbidden, NotFound):
            raise Invalid(f"id {m.id} is already taken", code="id_taken", field="id") from None
        if row["deleted_at"] is None:
            return _applied(spec, schema_version, m, row, "duplicate")
        raise Invalid(f"{spec.name} {m.id} was deleted", code="record_deleted", field="id")
    row = await spec.writes.create(scope, data)  # type: ignore[union-attr]
    return _applied(spec, schema_version, m, row)


async def _update(spec: SyncedTable, scope: Scope, schema_version: int, m: Mutation, fields: dict) -> MutationResult:
    if not fields:
        raise Invalid("an update needs fields", field="fields", code="no_fields")
    check_columns(spec, fields, schema_version, insert=False)
    row = await _row(spec, scope, m.id)
    if row["deleted_at"] is not None:
        raise Invalid(f"{spec.name} {m.id} was deleted on the server", code="record_deleted", field="id")
    apply = dict(fields)
    conflicts: list[str] = []
    refuse = False
    if m.base_version is not None:
        theirs = changed_since(row, m.base_version)
        for name in sorted(theirs & fields.keys()):
            policy = spec.policy_of(name)
            if policy == "last_writer_wins":
                continue  # the later write (this one, by server receipt) wins
            conflicts.append(name)
            apply.pop(name)
            refuse = refuse or policy == "reject"
    if refuse:
        return _applied(spec, schema_version, m, row, "conflict", conflicts)
    if apply:
        patch = msgspec.convert(to_api_fields(spec, apply), spec.writes.patch_type)  # type: ignore[union-attr]
        try:
            row = await spec.writes.update(scope, m.id, patch, expected_version=row["version"])  # type: ignore[union-attr]
        except PreconditionFailed:
            row = await _row(spec, scope, m.id)
            return _applied(spec, schema_version, m, row, "conflict", sorted(apply))
    return _applied(spec, schema_version, m, row, "conflict" if conflicts else "applied", conflicts or None)


async def _delete(spec: SyncedTable, scope: Scope, schema_version: int, m: Mutation) -> MutationResult:
    row = await _row(spec, scope, m.id)
    if row["deleted_at"] is not None:
        return MutationResult(m.mutation_id, "duplicate", version=row["version"])
    await spec.writes.delete(scope, m.id)  # type: ignore[union-attr]
    deleted = await spec.table.select(spec.table.version).where(spec.table._meta.primary_key == m.id).first()  # type: ignore[attr-defined]
    return MutationResult(m.mutation_id, "applied", version=deleted["version"])
