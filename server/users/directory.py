"""The users directory: who a caller sees, and who may add or change whom.

Scope (SYNC.md): reps see their team-mates and managers, managers their team,
admins the org. Admins add anyone and change anything here; managers add reps
under themselves; every user edits their own name, phone, time zone and home.
"""

from __future__ import annotations

import uuid

import msgspec
from piccolo.columns.combination import WhereRaw

from server.access.scope import Scope
from server.access.team import reports_of
from server.auth.tables import AuthSession
from server.common.errors import Forbidden, Invalid
from server.common.location import check_point
from server.common.phones import normalize_phone
from server.common.records import get_visible, list_page, update_record
from server.common.schemas import patch_fields
from server.common.time import utcnow
from server.db.ids import new_id
from server.geo.cells import latlng_to_cell
from server.orgs.service import check_timezone
from server.orgs.tables import ManagerLink
from server.sync.events import reset_after_commit
from server.users.schemas import UserIn, UserPatch
from server.users.service import create_user, get_user
from server.users.tables import User

SORTS = {"full_name": "full_name", "-updated_at": "updated_at"}
#: What every user may change about themselves.
SELF_FIELDS = frozenset({"full_name", "phone", "timezone", "home_lat", "home_lng"})
ADMIN_FIELDS = SELF_FIELDS | {"role", "manager_id", "active", "capacity_fte"}
MAX_QUERY = 100


class UserFilter(msgspec.Struct, kw_only=True):
    role: str | None = None
    manager_id: uuid.UUID | None = None
    #: Case-insensitive prefix of the full name or the email address.
    q: str | None = None
    active: bool | None = None


def _prefix_search(query: str) -> WhereRaw:
    query = query.strip().lower()
    if not query or len(query) > MAX_QUERY:
        raise Invalid(f"search text must have 1 to {MAX_QUERY} characters", field="q")
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"{escaped}%"
    return WhereRaw(
        "(lower(full_name) LIKE {} ESCAPE '\\' OR lower(email) LIKE {} ESCAPE '\\')", pattern, pattern
    )


async def list_users(scope: Scope, f: UserFilter, *, sort: str = "full_name",
                     limit: int | None = None, cursor: str | None = None):
    cond = scope.users()
    if f.role is not None:
        cond = cond & (User.role == f.role)
    if f.manager_id is not None:
        cond = cond & (User.manager_id == f.manager_id)
    if f.active is not None:
        cond = cond & (User.active == f.active)
    if f.q is not None:
        cond = cond & _prefix_search(f.q)
    return await list_page(User, cond, sorts=SORTS, sort=sort, limit=limit, cursor=cursor)


async def get_directory_user(scope: Scope, user_id: uuid.UUID) -> dict:
    return await get_visible(User, scope.users(), user_id, "user")


async def _check_manager(org_id: uuid.UUID, manager_id: uuid.UUID,
                         user_id: uuid.UUID | None = None) -> None:
    """``manager_id`` must be an active manager or admin of the org, and no loop."""
    manager = await User.select(User.role, User.active).where(
        (User.id == manager_id) & (User.org_id == org_id) & User.deleted_at.is_null()
    ).first()
    if manager is None or not manager["active"]:
        raise Invalid("no such active user in this organisation", field="manager_id",
                      code="unknown_user")
    if manager["role"] == "rep":
        raise Invalid("a rep cannot manage other users", field="manager_id", code="not_a_manager")
    if user_id is None:
        return
    links = [(r["id"], r["manager_id"]) for r in await User.select(User.id, User.manager_id).where(
        (User.org_id == org_id) & User.deleted_at.is_null())]
    if manager_id == user_id or manager_id in reports_of(user_id, links):
        raise Invalid("a user cannot report to themselves or to their own reports",
                      field="manager_id", code="manager_cycle")


async def add_user(scope: Scope, data: UserIn, *, password_time_cost: int) -> dict:
    """Admins add anyone; a manager adds reps who report to them; reps add no one."""
    me = scope.principal
    manager_id = data.manager_id
    if me.is_manager:
        if data.role != "rep":
            raise Forbidden("managers may only add reps", field="role")
        if manager_id not in (None, me.user_id):
            raise Forbidden("managers add reps under themselves", field="manager_id")
        manager_id = me.user_id
    elif not me.is_admin:
        raise Forbidden("only admins and managers may add users")
    if manager_id is not None:
        await _check_manager(scope.org_id, manager_id)
    home = _home(data.home_lat, data.home_lng)
    user_id = await create_user(
        scope.org_id, email=data.email, password=data.password, full_name=data.full_name,
        role=data.role, manager_id=manager_id, timezone=data.timezone, phone=data.phone,
        home=home, capacity_fte=data.capacity_fte, password_time_cost=password_time_cost,
    )
    return await get_user(scope.org_id, user_id)


def _home(lat: float | None, lng: float | None) -> tuple[float, float] | None:
    return check_point(lat, lng, prefix="home_")


def _check_allowed(scope: Scope, row: dict, fields: dict) -> None:
    me = scope.principal
    allowed = ADMIN_FIELDS if me.is_admin else SELF_FIELDS if row["id"] == me.user_id else frozenset()
    for name in fields:
        if name not in allowed:
            raise Forbidden(f"you may not change {name} of this user", field=name)
    if row["id"] == me.user_id and (fields.get("active") is False
                                    or fields.get("role", row["role"]) != row["role"]):
        # An admin demoting or disabling themselves could leave the org with no admin.
        raise Invalid("admins cannot demote or deactivate themselves",
                      field="active" if "active" in fields else "role", code="self_lockout")


async def _changes(scope: Scope, row: dict, fields: dict) -> dict:
    """PATCH fields -> columns, validated."""
    changes = {k: v for k, v in fields.items() if k not in ("phone", "home_lat", "home_lng")}
    if "phone" in fields:
        changes["phone_e164"] = normalize_phone(fields["phone"], field="phone")
    if "timezone" in fields and fields["timezone"] is not None:
        check_timezone(fields["timezone"])
    if "home_lat" in fields or "home_lng" in fields:
        home = _home(fields.get("home_lat", row["home_lat"]), fields.get("home_lng", row["home_lng"]))
        changes.update(home_lat=home[0] if home else None, home_lng=home[1] if home else None,
                       home_cell=latlng_to_cell(*home) if home else None)
    if changes.get("manager_id") is not None and changes["manager_id"] != row["manager_id"]:
        await _check_manager(scope.org_id, changes["manager_id"], row["id"])
    if changes.get("role", row["role"]) == "rep" and row["role"] != "rep":
        has_reports = await User.exists().where(
            (User.manager_id == row["id"]) & User.deleted_at.is_null() & (User.org_id == scope.org_id)
        )
        if has_reports:
            raise Invalid("reassign this user's reports before making them a rep", field="role",
                          code="has_reports")
    return changes


async def _move_manager(row: dict, manager_id: uuid.UUID | None) -> None:
    """Close the current reporting line and open the new one (``manager_links`` history)."""
    now = utcnow()
    await ManagerLink.update({ManagerLink.valid_to: now}).where(
        (ManagerLink.user_id == row["id"]) & ManagerLink.valid_to.is_null()
    )
    if manager_id is not None:
        await ManagerLink.insert(ManagerLink(id=new_id(), org_id=row["org_id"], user_id=row["id"],
                                             manager_id=manager_id, valid_from=now))


async def _end_sessions(org_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Revoke open sessions so reactivating a user does not revive old tokens; their streams end."""
    await AuthSession.update({AuthSession.revoked_at: utcnow(),
                              AuthSession.revoke_reason: "user_deactivated"}).where(
        (AuthSession.user_id == user_id) & AuthSession.revoked_at.is_null()
    )
    reset_after_commit(org_id, user_id=user_id, reason="user_disabled")


async def update_user(scope: Scope, user_id: uuid.UUID, patch: UserPatch,
                      expected_version: int | None = None) -> dict:
    row = await get_directory_user(scope, user_id)
    fields = patch_fields(patch)
    _check_allowed(scope, row, fields)
    changes = await _changes(scope, row, fields)
    updated = await update_record(User, row, changes, expected_version)
    if updated["manager_id"] != row["manager_id"]:
        await _move_manager(row, updated["manager_id"])
    if row["active"] and not updated["active"]:
        await _end_sessions(row["org_id"], row["id"])
    return updated
