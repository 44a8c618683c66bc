from __future__ import annotations

import uuid

from litestar import Controller, Request, Response, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.orgs.schemas import TeamOut, team_out
from server.orgs.teams import list_teams
from server.routes.common import IfMatch, etag, if_match_version
from server.users import directory
from server.users.schemas import Role, UserIn, UserOut, UserPage, UserPatch, user_out


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/", operation_id="users_list")
    async def list_users(
        self,
        access: NamedDependency[Scope],
        role: FromQuery[Role | None] = None,
        manager_id: FromQuery[uuid.UUID | None] = None,
        q: FromQuery[str | None] = None,
        active: FromQuery[bool | None] = None,
        sort: FromQuery[str] = "full_name",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> UserPage:
        """The directory: team-mates and managers for reps, the team for managers, the org for admins.

        `q` matches the start of the name or email; `sort` is `full_name` or `-updated_at`.
        """
        f = directory.UserFilter(role=role, manager_id=manager_id, q=q, active=active)
        rows, nxt = await directory.list_users(access, f, sort=sort, limit=limit, cursor=cursor)
        return UserPage(items=[user_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="users_create")
    async def create_user(self, request: Request, data: JSONBody[UserIn],
                          access: NamedDependency[Scope]) -> Response[UserOut]:
        """Admins add anyone; managers add reps under themselves (403 for everyone else)."""
        cost = request.app.state.settings.password_time_cost
        async with unit_of_work():
            row = await directory.add_user(access, data, password_time_cost=cost)
        return Response(user_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{user_id:uuid}", operation_id="users_get")
    async def get_user(self, user_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> Response[UserOut]:
        row = await directory.get_directory_user(access, user_id)
        return Response(user_out(row), headers=etag(row["version"]))

    @patch("/{user_id:uuid}", operation_id="users_update")
    async def update_user(self, user_id: FromPath[uuid.UUID], data: JSONBody[UserPatch],
                          access: NamedDependency[Scope], if_match: IfMatch = None) -> Response[UserOut]:
        """Users change their own name, phone, time zone and home; admins also role, manager,
        capacity and `active` (deactivating ends the user's sessions)."""
        async with unit_of_work():
            row = await directory.update_user(access, user_id, data, if_match_version(if_match))
        return Response(user_out(row), headers=etag(row["version"]))


class TeamController(Controller):
    path = "/api/v1/teams"
    tags = ["users"]

    @get("/", operation_id="teams_list")
    async def list_teams(self, access: NamedDependency[Scope]) -> list[TeamOut]:
        """Teams the caller sees, each with its current member ids."""
        return [team_out(row, members) for row, members in await list_teams(access)]
