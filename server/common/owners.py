"""Who may own a record: an active user of the org, within the caller's reach."""

from __future__ import annotations

import uuid

from server.access.scope import Scope
from server.common.errors import Forbidden, Invalid
from server.users.tables import User


async def check_owner(scope: Scope, owner_id: uuid.UUID | None, field: str = "owner_id") -> None:
    if owner_id is None:
        if scope.principal.role == "rep":
            raise Forbidden("reps cannot leave records unowned", field=field, code="owner_not_allowed")
        return
    exists = await User.exists().where(
        (User.id == owner_id) & (User.org_id == scope.org_id)
        & User.deleted_at.is_null() & (User.active == True)
    )
    if not exists:
        raise Invalid("no such active user in this organisation", field=field, code="unknown_user")
    if not scope.may_assign_to(owner_id):
        raise Forbidden("you may only assign records to yourself or your team",
                        field=field, code="owner_not_allowed")
