"""Who owns a territory, effective-dated; a change moves its records between reps' phones."""

from __future__ import annotations

import uuid

from server.access.scope import Scope
from server.common.errors import Forbidden, NotFound
from server.common.time import utcnow
from server.db.ids import new_id
from server.geo.tables import Territory, TerritoryOwner
from server.sync.changes import territory_reassigned


async def reassign_territory(scope: Scope, territory_id: uuid.UUID, owner_ids: list[uuid.UUID]) -> int:
    """Make ``owner_ids`` the territory's owners from now on; returns the change's version.

    Admins may reassign any territory; a manager one whose old and new owners
    are all in their team. The old owners' phones get the territory's records
    as ``removed`` on their next pull, the new owners' phones get them whole.
    """
    exists = await Territory.exists().where((Territory.org_id == scope.org_id) & (Territory.id == territory_id)
                                            & Territory.deleted_at.is_null())
    if not exists:
        raise NotFound("territory not found")
    current = await TerritoryOwner.select(TerritoryOwner.user_id).where(
        (TerritoryOwner.territory_id == territory_id) & TerritoryOwner.valid_to.is_null()
    )
    old = frozenset(r["user_id"] for r in current)
    new = frozenset(owner_ids)
    if not all(scope.may_assign_to(u) for u in old | new):
        raise Forbidden("only an admin, or the manager of everyone involved, may reassign this territory")
    now = utcnow()
    await TerritoryOwner.update({TerritoryOwner.valid_to: now}).where(
        (TerritoryOwner.territory_id == territory_id) & TerritoryOwner.valid_to.is_null()
    )
    for user_id in sorted(new):
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=scope.org_id, territory_id=territory_id,
                                                   user_id=user_id, valid_from=now))
    return await territory_reassigned(scope.org_id, territory_id, old, new)
