"""Teams as the directory shows them: who is in which team now."""

from __future__ import annotations

import uuid

from server.access.scope import Scope
from server.orgs.tables import Team, TeamMembership


async def list_teams(scope: Scope) -> list[tuple[dict, list[uuid.UUID]]]:
    """Teams the caller sees, by name, each with its current member ids.

    Admins see every team of the org; others the teams they belong to and the
    teams led by someone in their team (a manager's own and their managers' below).
    """
    org = scope.org_id
    cond = (Team.org_id == org) & Team.deleted_at.is_null()
    if scope.members is not None:
        mine = TeamMembership.select(TeamMembership.team_id).where(
            (TeamMembership.org_id == org) & (TeamMembership.user_id == scope.principal.user_id)
            & TeamMembership.valid_to.is_null()
        )
        cond = cond & (Team.manager_id.is_in(sorted(scope.members)) | Team.id.is_in(mine))
    teams = await Team.select().where(cond).order_by(Team.name, Team.id)
    if not teams:
        return []
    members: dict[uuid.UUID, list[uuid.UUID]] = {t["id"]: [] for t in teams}
    for m in await TeamMembership.select(TeamMembership.team_id, TeamMembership.user_id).where(
        (TeamMembership.org_id == org) & TeamMembership.team_id.is_in(list(members))
        & TeamMembership.valid_to.is_null()
    ):
        members[m["team_id"]].append(m["user_id"])
    return [(t, sorted(set(members[t["id"]]))) for t in teams]
