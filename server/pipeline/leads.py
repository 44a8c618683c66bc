"""Leads: prospects a rep found (door knock, referral, web form) and works towards a deal.

A lead moves new -> contacted -> qualified (skipping ahead is allowed: a rep
can qualify a lead on the first visit), any open status -> disqualified with a
reason, and disqualified -> new to reopen it. ``converted`` is reached only by
conversion (``server.pipeline.conversion``), after which the lead is a
read-only record of where the account, contact and deal came from.

A lead's location places it in an H3 cell and, from the cell, in a primary
territory: unowned leads are visible to the reps who own that territory.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec
from msgspec import UNSET

from server.access.scope import Scope
from server.common.errors import Conflict, Invalid
from server.common.location import point_columns
from server.common.owners import check_owner
from server.common.phones import normalize_phone
from server.common.records import (
    get_visible,
    insert_record,
    list_page,
    tombstone,
    update_record,
)
from server.common.schemas import patch_fields
from server.common.time import utcnow
from server.db.engine import is_sqlite
from server.db.search import name_search
from server.geo.lookup import territory_for
from server.pipeline.schemas import LeadIn, LeadPatch
from server.pipeline.tables import Lead

OPEN_STATUSES = ("new", "contacted", "qualified")
#: Status moves a user may make by editing the lead (conversion has its own endpoint).
NEXT_STATUSES = {
    "new": {"contacted", "qualified", "disqualified"},
    "contacted": {"qualified", "disqualified"},
    "qualified": {"disqualified"},
    "disqualified": {"new"},
}
#: ``name`` orders by last name; newest first is what a rep's inbox wants.
SORTS = {"-created_at": "created_at", "-updated_at": "updated_at", "name": "last_name"}


class LeadFilter(msgspec.Struct, kw_only=True):
    owner_id: uuid.UUID | None = None
    unowned: bool = False
    status: str | None = None
    source: str | None = None
    q: str | None = None
    updated_since: datetime | None = None


async def _placement(org_id: uuid.UUID, lat: float | None, lng: float | None) -> dict:
    """Location columns: the point, its H3 cell and its territory (all null without a point)."""
    columns = point_columns(lat, lng)
    cell = columns["h3_cell"]
    return {**columns, "territory_id": await territory_for(org_id, cell) if cell else None}


def _check_name(first_name: str, last_name: str, company: str) -> None:
    if not (first_name.strip() or last_name.strip() or company.strip()):
        raise Invalid("a lead needs a person's name or a company", field="last_name",
                      code="name_required")


def _check_reason(status: str, reason: str | None, given: bool) -> None:
    """Disqualifying needs a reason; a reason on a lead that is not disqualified is a mistake."""
    if status == "disqualified" and not reason:
        raise Invalid("say why the lead is disqualified", field="disqualified_reason",
                      code="reason_required")
    if status != "disqualified" and given and reason is not None:
        raise Invalid("only disqualified leads have a disqualified_reason",
                      field="disqualified_reason", code="not_disqualified")


def _refuse_converted(row: dict) -> None:
    if row["status"] == "converted":
        raise Conflict("a converted lead is read-only", code="lead_converted")


def _values(fields: dict) -> dict:
    out = dict(fields)
    out.pop("id", None)
    if "phone" in out:
        out["phone_e164"] = normalize_phone(out.pop("phone"), field="phone")
    return out


async def create_lead(scope: Scope, data: LeadIn) -> dict:
    _check_name(data.first_name, data.last_name, data.company)
    if data.status == "converted":
        raise Invalid("leads are converted with POST /leads/{id}/convert", field="status",
                      code="use_conversion")
    _check_reason(data.status, data.disqualified_reason, given=True)
    owner_id = scope.principal.user_id if data.owner_id is UNSET else data.owner_id
    await check_owner(scope, owner_id)
    values = _values(msgspec.structs.asdict(data))
    values.update(await _placement(scope.org_id, data.lat, data.lng), owner_id=owner_id)
    return await insert_record(Lead, scope.org_id, values, record_id=data.id)


async def get_lead(scope: Scope, lead_id: uuid.UUID, *, lock: bool = False) -> dict:
    """The lead if in scope. ``lock`` holds its row until the transaction ends (PostgreSQL;
    SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so two conversions queue."""
    if lock and not is_sqlite():
        await Lead.select(Lead.id).where(Lead.id == lead_id).lock_rows()
    return await get_visible(Lead, scope.leads(), lead_id, "lead")


async def require_version(row: dict, expected_version: int | None) -> None:
    """If-Match before any rule: a stale client gets 412 (``update_record`` with no
    changes only compares versions), not a verdict on a status it has not seen."""
    await update_record(Lead, row, {}, expected_version)


async def update_lead(scope: Scope, lead_id: uuid.UUID, patch: LeadPatch,
                      expected_version: int | None = None) -> dict:
    row = await get_lead(scope, lead_id)
    _refuse_converted(row)
    await require_version(row, expected_version)
    fields = patch_fields(patch)
    _check_name(*(fields.get(f, row[f]) for f in ("first_name", "last_name", "company")))
    status = fields.get("status", row["status"])
    if status != row["status"]:
        if status == "converted":
            raise Invalid("leads are converted with POST /leads/{id}/convert", field="status",
                          code="use_conversion")
        if status not in NEXT_STATUSES[row["status"]]:
            raise Invalid(f"a {row['status']} lead cannot become {status}", field="status",
                          code="invalid_transition")
    reason = fields.get("disqualified_reason", row["disqualified_reason"])
    _check_reason(status, reason, given="disqualified_reason" in fields)
    if "owner_id" in fields:
        await check_owner(scope, fields["owner_id"])
    changes = _values(fields)
    if status != "disqualified":
        changes["disqualified_reason"] = None  # reopening forgets the old reason
    if "lat" in fields or "lng" in fields:
        changes.update(await _placement(scope.org_id, fields.get("lat", row["lat"]),
                                        fields.get("lng", row["lng"])))
    return await update_record(Lead, row, changes, expected_version)


async def mark_converted(lead: dict, *, owner_id: uuid.UUID, account_id: uuid.UUID,
                         contact_id: uuid.UUID | None, opportunity_id: uuid.UUID | None,
                         expected_version: int | None = None) -> dict:
    """The last step of a conversion: link the new records and freeze the lead.

    An unowned lead goes to whoever converted it, like the records it became.
    """
    _refuse_converted(lead)
    return await update_record(Lead, lead, {
        "status": "converted", "converted_at": utcnow(), "owner_id": owner_id,
        "account_id": account_id, "contact_id": contact_id, "opportunity_id": opportunity_id,
    }, expected_version)


async def delete_lead(scope: Scope, lead_id: uuid.UUID) -> None:
    row = await get_lead(scope, lead_id)
    _refuse_converted(row)
    await tombstone(Lead, row)


async def list_leads(scope: Scope, f: LeadFilter, *, sort: str = "-created_at",
                     limit: int | None = None, cursor: str | None = None):
    cond = scope.leads()
    if f.owner_id is not None:
        cond = scope.owned_by(Lead, f.owner_id, cond)
    if f.unowned:
        cond = cond & Lead.owner_id.is_null()
    if f.status is not None:
        cond = cond & (Lead.status == f.status)
    if f.source is not None:
        cond = cond & (Lead.source == f.source)
    if f.updated_since is not None:
        cond = cond & (Lead.updated_at >= f.updated_since)
    if f.q is not None:
        cond = cond & name_search("leads", f.q)
    return await list_page(Lead, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)
