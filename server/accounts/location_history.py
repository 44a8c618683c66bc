"""Where an account stood when: every change of its location, and the suspicious ones flagged.

Check-ins are verified against the account's location as it stood at the
visit (:func:`server.comms.checkins.position_at`), so a rep who moves an
account onto the spot they are standing gains nothing for earlier visits; the
move itself is kept here and, when a rep (not a manager or admin) moved a
location that was set, flagged for their manager.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import msgspec
from piccolo.columns import Boolean, DoublePrecision, ForeignKey, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from server.common.errors import Forbidden
from server.common.keyset import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    after,
    decode_cursor,
    encode_cursor,
)
from server.common.time import utcnow
from server.comms.checkins import distance_m
from server.db.columns import ACCOUNT, USER, OrgRow
from server.db.ids import new_id

if TYPE_CHECKING:  # the scope module imports the tables, this one among them
    from server.access.scope import Scope

class AccountLocationChange(OrgRow, Table, tablename="account_locations"):
    """One change of an account's location (server-only; never synced)."""

    account_id = ForeignKey(ACCOUNT, null=False)
    #: The new location (null when it was cleared).
    lat = DoublePrecision(null=True, default=None)
    lng = DoublePrecision(null=True, default=None)
    h3_cell = Varchar(length=16, null=True, default=None)
    previous_lat = DoublePrecision(null=True, default=None)
    previous_lng = DoublePrecision(null=True, default=None)
    #: Metres between the previous and the new location, when both are known.
    moved_m = DoublePrecision(null=True, default=None)
    changed_at = Timestamptz(default=TimestamptzNow())
    changed_by_id = ForeignKey(USER, null=False)
    changed_by_role = Varchar(length=10)
    #: A rep moved a location that was set: the manager should look.
    flagged = Boolean(default=False)


class LocationChangeOut(msgspec.Struct):
    id: uuid.UUID
    account_id: uuid.UUID
    lat: float | None
    lng: float | None
    previous_lat: float | None
    previous_lng: float | None
    moved_m: float | None
    changed_at: datetime
    changed_by_id: uuid.UUID
    changed_by_role: str
    flagged: bool


class LocationChangePage(msgspec.Struct):
    items: list[LocationChangeOut]
    next_cursor: str | None = None


def _point(lat: float | None, lng: float | None) -> tuple[float, float] | None:
    return None if lat is None or lng is None else (lat, lng)


async def record_location_change(scope: Scope, before: dict, after: dict) -> dict | None:
    """Keep the change from ``before`` to ``after`` (account rows); None when the location did not move."""
    old, new = _point(before["lat"], before["lng"]), _point(after["lat"], after["lng"])
    if old == new:
        return None
    role = scope.principal.role
    row = {
        "id": new_id(), "org_id": after["org_id"], "account_id": after["id"],
        "lat": after["lat"], "lng": after["lng"], "h3_cell": after.get("h3_cell"),
        "previous_lat": before["lat"], "previous_lng": before["lng"],
        "moved_m": distance_m(old, new) if old and new else None,
        "changed_at": after.get("updated_at") or utcnow(), "changed_by_id": scope.principal.user_id,
        "changed_by_role": role, "flagged": role == "rep" and old is not None,
    }
    await AccountLocationChange.insert(AccountLocationChange(**row))
    return row


async def positions_before(account_ids: list[uuid.UUID], since: datetime) -> dict[uuid.UUID, list]:
    """Per account, its location changes after ``since`` as ``(changed_at, position before it)``."""
    if not account_ids:
        return {}
    rows = await AccountLocationChange.select(
        AccountLocationChange.account_id, AccountLocationChange.changed_at,
        AccountLocationChange.previous_lat, AccountLocationChange.previous_lng,
    ).where(AccountLocationChange.account_id.is_in(account_ids) & (AccountLocationChange.changed_at > since))
    out: dict[uuid.UUID, list] = {}
    for r in rows:
        out.setdefault(r["account_id"], []).append((r["changed_at"], _point(r["previous_lat"], r["previous_lng"])))
    return out


async def list_location_changes(scope: Scope, *, flagged: bool | None = None, account_id: uuid.UUID | None = None,
                                limit: int | None = None, cursor: str | None = None) -> LocationChangePage:
    """Newest first. Managers see the changes their team made, admins the org's; reps may not look."""
    if not (scope.principal.is_admin or scope.principal.is_manager):
        raise Forbidden("only managers and admins review account location changes", code="not_manager")
    t = AccountLocationChange
    cond = t.org_id == scope.org_id
    if scope.members is not None:
        cond = cond & t.changed_by_id.is_in(sorted(scope.members))
    if flagged is not None:
        cond = cond & (t.flagged == flagged)
    if account_id is not None:
        cond = cond & (t.account_id == account_id)
    if cursor:
        at, last_id = decode_cursor(cursor, "-changed_at")
        cond = cond & after(t.changed_at, t.id, at, last_id, True)
    size = min(max(limit or DEFAULT_LIMIT, 1), MAX_LIMIT)
    rows = await t.select(*(t._meta.get_column_by_name(f) for f in LocationChangeOut.__struct_fields__)).where(
        cond).order_by(t.changed_at, t.id, ascending=False).limit(size + 1)
    items = [LocationChangeOut(**r) for r in rows[:size]]
    nxt = encode_cursor("-changed_at", items[-1].changed_at, items[-1].id) if len(rows) > size else None
    return LocationChangePage(items=items, next_cursor=nxt)
