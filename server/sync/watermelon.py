"""The WatermelonDB-compatible endpoint, on the same change log, scopes and writers as the native one.

WatermelonDB's ``synchronize()`` pulls ``{changes, timestamp}`` with
``lastPulledAt`` and pushes the same ``changes`` shape. Here ``timestamp`` is
the change-log position (an org version), never a clock time. Its rules:

* a pull is one response (the protocol has no pages): the server walks the
  native pull session to its end and sends it whole; ``removed`` records go
  out as ``deleted`` (WatermelonDB never pushes a pulled delete back);
* a push is all-or-nothing, except that a record failing validation or scope
  is set aside (``experimentalRejectedIds``, and an audit entry for the org's
  admins) while the rest applies; a record changed on the server after
  ``lastPulledAt`` on a field the push also changes is a real conflict: 409,
  nothing applied, the phone pulls and retries;
* WatermelonDB pushes whole records: the changed fields are those whose value
  differs from the server's; server-owned columns are ignored; a create of an
  existing id is an update and a delete of a missing id is ignored.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from server.access.scope import Scope
from server.audit.log import audit
from server.auth.tables import Device
from server.common.errors import Conflict, Invalid, PayloadTooLarge
from server.common.records import changed_since
from server.common.time import utcnow
from server.db.tx import savepoint as savepoint_here
from server.db.tx import unit_of_work
from server.sync import cursor as cursors
from server.sync import pull as native_pull
from server.sync.checksum import BUCKETS
from server.sync.push import Mutation, apply_guarded
from server.sync.registry import BY_NAME, SyncedTable, tables_for
from server.sync.session import remember_scope, require_device, scope_keys
from server.sync.wire import encoder

log = logging.getLogger("fieldsales.sync")

#: WatermelonDB's own bookkeeping columns: never stored, never sent.
LOCAL_COLUMNS = frozenset({"_status", "_changed"})
MAX_PUSH_RECORDS = 2000


class Migration(msgspec.Struct):
    from_: int = msgspec.field(name="from")
    tables: list[str] = msgspec.field(default_factory=list)
    columns: list[dict[str, Any]] = msgspec.field(default_factory=list)


def _empty(schema_version: int) -> dict[str, dict[str, list]]:
    return {t.name: {"created": [], "updated": [], "deleted": []} for t in tables_for(schema_version)}


async def _session(scope: Scope, device_id: uuid.UUID, secret: bytes, token: str | None, schema_version: int,
                   buckets: dict[str, list[int]] | None = None) -> tuple[list[native_pull.PullPage], cursors.Cursor]:
    pages = []
    while True:
        page = await native_pull.pull(scope, device_id, secret, token, schema_version, native_pull.MAX_PAGE_ROWS,
                                      buckets=buckets if token is None else None, max_bytes=64 * 1024 * 1024)
        pages.append(page)
        token = page.cursor
        if not page.has_more:
            end = cursors.decode(token, secret, org_id=scope.org_id, user_id=scope.principal.user_id)
            return pages, end


async def pull(scope: Scope, device_id: uuid.UUID, secret: bytes, last_pulled_at: int | None,
               schema_version: int, migration: Migration | None) -> dict[str, Any]:
    await require_device(scope.principal, device_id)
    device = await Device.select(Device.sync_scope).where(Device.id == device_id).first()
    token = None
    if last_pulled_at:
        if last_pulled_at < 0:
            raise Invalid("last_pulled_at must be a timestamp this server gave", field="last_pulled_at")
        scope_id = device["sync_scope"] or await remember_scope(scope.org_id, scope_keys(scope))
        start = cursors.Cursor(cursors.FORMAT, str(scope.org_id), str(scope.principal.user_id), last_pulled_at,
                               last_pulled_at, scope_id)
        token = cursors.encode(start, secret)
    pages, end = await _session(scope, device_id, secret, token, schema_version)
    changes = _empty(schema_version)
    first = not last_pulled_at
    for page in pages:
        for name, delta in page.changes.items():
            out = changes[name]
            (out["created"] if first else out["updated"]).extend(delta.upserted)
            out["deleted"].extend(delta.deleted + delta.removed)
    if last_pulled_at and migration is not None:
        # Tables and columns the phone's migration added: send their records whole.
        wanted = set(migration.tables) | {c.get("table") for c in migration.columns}
        repair = {t.name: list(range(BUCKETS)) for t in tables_for(schema_version) if t.name in wanted}
        if repair:
            extra, _ = await _session(scope, device_id, secret, None, schema_version, buckets=repair)
            for page in extra:
                for name, delta in page.changes.items():
                    # Records this pull already carries may come again: WatermelonDB applies an
                    # update twice harmlessly.
                    changes[name]["updated"].extend(delta.upserted)
    await Device.update({Device.sync_scope: end.scope, Device.last_seen_at: utcnow()}).where(Device.id == device_id)
    return {"changes": changes, "timestamp": max(end.target, 1)}


def _same(ours: Any, theirs: Any) -> bool:
    if ours in (None, "") and theirs in (None, ""):
        return True
    if isinstance(ours, str) and isinstance(theirs, (int, float, str)) and not isinstance(theirs, bool):
        try:
            return Decimal(ours) == Decimal(str(theirs))
        except InvalidOperation:
            return ours == theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
        return abs(ours - theirs) < 1e-9
    return ours == theirs


def _clean(spec: SyncedTable, record: dict[str, Any], schema_version: int, *, insert: bool) -> dict[str, Any]:
    """The columns of ``record`` the phone may write (server-owned and unknown columns are ignored)."""
    writers = spec.writers
    known = spec.columns_for(schema_version)
    allowed = ("insert", "both") if insert else ("both",)
    return {k: v for k, v in record.items()
            if k in known and k != "id" and k not in LOCAL_COLUMNS and writers.get(k) in allowed}


async def push(scope: Scope, device_id: uuid.UUID, last_pulled_at: int, schema_version: int,
               changes: dict[str, dict[str, list]]) -> dict[str, Any]:
    await require_device(scope.principal, device_id)
    total = sum(len(v) for delta in changes.values() for v in delta.values() if isinstance(v, list))
    if total > MAX_PUSH_RECORDS:
        raise PayloadTooLarge(f"at most {MAX_PUSH_RECORDS} records per push", code="batch_too_large")
    rejected: dict[str, list[str]] = {}
    async with unit_of_work():
        for name, delta in changes.items():
            spec = BY_NAME.get(name)
            records = [*delta.get("created", []), *delta.get("updated", [])]
            if spec is None or spec.since > schema_version or spec.writes is None:
                rejected.setdefault(name, []).extend(str(r.get("id")) for r in records)
                rejected[name].extend(str(i) for i in delta.get("deleted", []))
                continue
            for record in records:
                mutation = await _upsert(spec, scope, record, last_pulled_at, schema_version)
                if mutation is not None:
                    await _apply(scope, schema_version, spec, mutation, rejected)
            for record_id in delta.get("deleted", []):
                mutation = await _delete(spec, scope, record_id, last_pulled_at)
                if mutation is not None:
                    await _apply(scope, schema_version, spec, mutation, rejected)
    return {"experimentalRejectedIds": rejected}


async def _current(spec: SyncedTable, record_id: uuid.UUID) -> dict | None:
    return await spec.table.select().where(spec.table._meta.primary_key == record_id).first()


def _record_id(raw: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise Invalid(f"record id {raw!r} is not a UUID", field="id", code="invalid_id") from None


async def _upsert(spec: SyncedTable, scope: Scope, record: dict, last_pulled_at: int,
                  schema_version: int) -> Mutation | None:
    record_id = _record_id(record.get("id"))
    row = await _current(spec, record_id)
    if row is None or row["org_id"] != scope.org_id:
        # WatermelonDB sends every column; a null means "not set", so server defaults apply.
        fields = {k: v for k, v in _clean(spec, record, schema_version, insert=True).items() if v is not None}
        return Mutation(mutation_id=1, table=spec.name, op="insert", id=record_id, fields=fields)
    server = encoder(spec.columns)(row)
    fields = _clean(spec, record, schema_version, insert=False)
    changed = {k: v for k, v in fields.items() if not _same(server.get(k), v)}
    if not changed:
        return None
    if row["deleted_at"] is not None or changed_since(row, last_pulled_at) & changed.keys():
        raise Conflict(f"{spec.name} {record_id} changed on the server after last_pulled_at; pull and retry",
                       code="sync_conflict", extra={"table": spec.name, "id": str(record_id)})
    return Mutation(mutation_id=1, table=spec.name, op="update", id=record_id, fields=changed)


async def _delete(spec: SyncedTable, scope: Scope, raw_id: Any, last_pulled_at: int) -> Mutation | None:
    record_id = _record_id(raw_id)
    row = await _current(spec, record_id)
    if row is None or row["org_id"] != scope.org_id or row["deleted_at"] is not None:
        return None  # deleting what is not there is a no-op
    if row["version"] > last_pulled_at:
        raise Conflict(f"{spec.name} {record_id} changed on the server after last_pulled_at; pull and retry",
                       code="sync_conflict", extra={"table": spec.name, "id": str(record_id)})
    return Mutation(mutation_id=1, table=spec.name, op="delete", id=record_id)


async def _apply(scope: Scope, schema_version: int, spec: SyncedTable, mutation: Mutation,
                 rejected: dict[str, list[str]]) -> None:
    savepoint = await savepoint_here()
    result = await apply_guarded(scope, schema_version, mutation)
    if result.status in ("applied", "duplicate"):
        await savepoint.release()
        return
    await savepoint.rollback_to()
    await savepoint.release()
    if result.status == "conflict":
        raise Conflict(f"{spec.name} {mutation.id} conflicts with the server's copy; pull and retry",
                       code="sync_conflict", extra={"table": spec.name, "id": str(mutation.id)})
    error = result.error
    rejected.setdefault(spec.name, []).append(str(mutation.id))
    log.info("watermelon push set a record aside", extra={"table": spec.name, "id": str(mutation.id),
                                                          "code": error.code if error else None})
    await audit(scope, "sync.record_rejected", spec.name, mutation.id,
                {"code": error.code, "message": error.message, "field": error.field} if error else {})

