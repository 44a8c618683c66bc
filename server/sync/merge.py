"""Merging duplicates: two reps created the same customer offline; one record survives.

The duplicate's history (contacts, deals, activities, tasks, appointments, and
for contacts and leads the records that point at them) moves to the survivor;
blanks on the survivor are filled from the duplicate; the duplicate becomes a
tombstone with ``merged_into_id``, which phones receive as ``removed`` with
``merged_into`` so they can rewrite local references. Moved rows get a new
version (and a move record), so every phone that holds them hears of it.
"""

from __future__ import annotations

import uuid

from piccolo.table import Table

from server.access.scope import Scope
from server.accounts.tables import Account, Contact
from server.audit.log import audit
from server.common.errors import Forbidden, Invalid
from server.common.records import get_visible, update_record
from server.common.time import utcnow
from server.comms.tables import Activity
from server.db.clock import next_version
from server.pipeline.tables import Lead, Opportunity
from server.sync import changes
from server.work.tables import Appointment, Task

#: What points at a record of each mergeable table.
REFERENCES: dict[str, tuple[tuple[type[Table], str], ...]] = {
    "accounts": ((Contact, "account_id"), (Opportunity, "account_id"), (Activity, "account_id"),
                 (Task, "account_id"), (Appointment, "account_id"), (Lead, "account_id")),
    "contacts": ((Activity, "contact_id"), (Task, "contact_id"), (Appointment, "contact_id"), (Lead, "contact_id")),
    "leads": ((Activity, "lead_id"), (Task, "lead_id"), (Appointment, "lead_id")),
}
TABLES: dict[str, type[Table]] = {"accounts": Account, "contacts": Contact, "leads": Lead}
#: Survivor columns filled from the duplicate when blank.
FILLABLE: dict[str, tuple[str, ...]] = {
    "accounts": ("industry", "phone_e164", "email", "website", "address_line", "city", "state", "postal_code",
                 "country", "lat", "lng", "h3_cell", "potential", "visit_every_days"),
    "contacts": ("title", "email", "phone_e164", "mobile_e164"),
    "leads": ("title", "email", "phone_e164", "address_line", "city", "state", "postal_code", "lat", "lng",
              "h3_cell", "source"),
}


async def merge(scope: Scope, kind: str, survivor_id: uuid.UUID, duplicate_id: uuid.UUID,
                condition) -> dict:
    """Fold ``duplicate_id`` into ``survivor_id`` (both ``kind`` records); returns the survivor."""
    table = TABLES[kind]
    if survivor_id == duplicate_id:
        raise Invalid("a record cannot be merged into itself", field="duplicate_id", code="merge_self")
    survivor = await get_visible(table, condition, survivor_id, kind[:-1])
    duplicate = await get_visible(table, condition, duplicate_id, kind[:-1])
    for row in (survivor, duplicate):
        if row.get("owner_id") is None and scope.members is not None and not scope.principal.is_manager:
            raise Forbidden("only a manager or an admin may merge unowned records")
        if row.get("owner_id") is not None and not scope.may_assign_to(row["owner_id"]):
            raise Forbidden(f"you may not merge {kind} owned by someone outside your team")
    if kind == "leads" and (survivor["converted_at"] or duplicate["converted_at"]):
        raise Invalid("converted leads cannot be merged", field="duplicate_id", code="lead_converted")
    [old_holders, new_holders] = await changes.holders_of(kind, scope.org_id, [duplicate, survivor])
    version = await next_version(scope.org_id)
    for child, column in REFERENCES[kind]:
        ref = child._meta.get_column_by_name(column)
        moved = await child.update({ref: survivor_id, child.version: version}).where(  # type: ignore[attr-defined]
            (child.org_id == scope.org_id) & (ref == duplicate_id)  # type: ignore[attr-defined]
        ).returning(child._meta.primary_key)
        spec_name = child._meta.tablename
        await changes.log_moves(scope.org_id, spec_name, [r["id"] for r in moved], old_holders, version)
    now = utcnow()
    await table.update({table.deleted_at: now, table.updated_at: now, table.version: version,  # type: ignore[attr-defined]
                        table.merged_into_id: survivor_id}).where(table._meta.primary_key == duplicate_id)  # type: ignore[attr-defined]
    fill = {c: duplicate[c] for c in FILLABLE[kind] if survivor.get(c) in (None, "") and duplicate.get(c) not in (None, "")}
    merged = await update_record(table, survivor, fill) if fill else survivor
    await audit(scope, f"{kind}.merged", kind, survivor_id, {"duplicate_id": str(duplicate_id)})
    changes.poke(scope.org_id, None if old_holders is None or new_holders is None else old_holders | new_holders,
                 version)
    return merged
