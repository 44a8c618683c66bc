"""Many activities at once: what a phone's push mostly carries, written with set-based SQL.

Each activity gets exactly the checks and answers of
:func:`server.comms.activities.create_activity` (insert-if-absent, a retry is a
replay, links must be visible), but the batch costs a handful of statements in
all: one read of existing ids, one visibility query per kind of link, for
visits two reads to verify the check-ins (the accounts' positions, and their
location changes since the earliest visit), one block of versions and one
multi-row insert.
"""

from __future__ import annotations

import uuid

from server.access.scope import Scope
from server.common.errors import Conflict, DomainError, Invalid
from server.common.time import utcnow
from server.comms import outbox
from server.comms.activities import (
    activity_values,
    link_conditions,
    lock_id,
    same_content,
)
from server.comms.schemas import ActivityIn
from server.comms.tables import Activity
from server.comms.verification import verify_visits
from server.db.bulk import insert_rows
from server.db.clock import next_versions
from server.db.ids import new_id
from server.jobs.scheduler import nudge_after_commit
from server.sync import changes

Outcome = tuple[dict, bool] | DomainError


async def create_activities(scope: Scope, items: list[ActivityIn]) -> list[Outcome]:
    """Insert-if-absent for each item; per item ``(row, created)`` or the error that refused it."""
    now = utcnow()
    out: list[Outcome | None] = [None] * len(items)
    pending: dict[int, dict] = {}
    ids: dict[int, uuid.UUID] = {}
    seen: set[uuid.UUID] = set()
    for i, data in enumerate(items):
        record_id = data.id or new_id()
        if record_id in seen:
            out[i] = Conflict(f"id {record_id} appears twice in this batch", code="id_taken", field="id")
            continue
        seen.add(record_id)
        try:
            pending[i] = activity_values(data, now)
            ids[i] = record_id
        except DomainError as e:
            out[i] = e
    for record_id in sorted(ids.values()):
        await lock_id(record_id)
    await _replays(scope, pending, ids, out)
    await _check_links(scope, pending, out)
    await verify_visits(scope.org_id, list(pending.values()))
    if pending:
        order = sorted(pending)
        rows = [
            {**pending[i], "id": ids[i], "org_id": scope.org_id, "rep_id": scope.principal.user_id,
             "received_at": now, "created_at": now, "updated_at": now, "deleted_at": None,
             "field_versions": "{}"}
            for i in order
        ]
        held = await changes.holders_of("activities", scope.org_id, rows)
        # Versions come last: from here to commit the org's clock row is locked (commit order).
        for row, version in zip(rows, await next_versions(scope.org_id, len(rows)), strict=True):
            row["version"] = version
        columns = tuple(rows[0])
        await insert_rows("activities", columns, [tuple(r[c] for c in columns) for r in rows])
        await outbox.enqueue(scope.org_id, rows)
        nudge_after_commit()
        for i, row in zip(order, rows, strict=True):
            out[i] = (row, True)
        changes.poke_rows(scope.org_id, held, rows[-1]["version"])
    return [o if o is not None else Invalid("not processed") for o in out]


async def _replays(scope: Scope, pending: dict[int, dict], ids: dict[int, uuid.UUID], out: list) -> None:
    """Ids already stored: the same rep's same content is a replay, anything else a taken id."""
    if not pending:
        return
    existing = {r["id"]: r for r in await Activity.select().where(Activity.id.is_in([ids[i] for i in pending]))}
    for i in [i for i in pending if ids[i] in existing]:
        row = existing[ids[i]]
        if (row["org_id"] == scope.org_id and row["rep_id"] == scope.principal.user_id
                and row["deleted_at"] is None and same_content(row, pending[i])):
            out[i] = (row, False)
        else:
            out[i] = Conflict(f"id {ids[i]} is already taken", code="id_taken", field="id")
        del pending[i]


async def _check_links(scope: Scope, pending: dict[int, dict], out: list) -> None:
    """Every linked record must be live and visible: one query per kind of link."""
    for thing, (table, condition) in link_conditions(scope).items():
        column = f"{thing}_id"
        wanted = {v[column] for v in pending.values() if v.get(column) is not None}
        if not wanted:
            continue
        visible = {r["id"] for r in await table.select(table._meta.primary_key).where(
            condition & table._meta.primary_key.is_in(sorted(wanted)) & table.deleted_at.is_null()  # type: ignore[attr-defined]
        )}
        for i in [i for i, v in pending.items() if v.get(column) is not None and v[column] not in visible]:
            out[i] = Invalid(f"no such {thing}", field=column, code=f"unknown_{thing}")
            del pending[i]


