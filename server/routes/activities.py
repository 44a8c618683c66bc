from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.comms import activities as service
from server.comms import amendments
from server.comms.amendments import AmendmentOut, amendment_out
from server.comms.schemas import (
    ActivityIn,
    ActivityOut,
    ActivityPage,
    ActivityPatch,
    ActivityType,
    activity_out,
)
from server.db.tx import unit_of_work
from server.routes.common import IfMatch, etag, if_match_version

#: ``?type=call&type=visit`` or a single ``?type=call``.
TypeFilter = Annotated[list[ActivityType] | None, QueryParameter(name="type", required=False)]


class ActivityController(Controller):
    path = "/api/v1/activities"
    tags = ["activities"]

    @get("/", operation_id="activities_list")
    async def list_activities(
        self,
        access: NamedDependency[Scope],
        rep_id: FromQuery[uuid.UUID | None] = None,
        types: TypeFilter = None,
        account_id: FromQuery[uuid.UUID | None] = None,
        contact_id: FromQuery[uuid.UUID | None] = None,
        lead_id: FromQuery[uuid.UUID | None] = None,
        opportunity_id: FromQuery[uuid.UUID | None] = None,
        occurred_after: FromQuery[datetime | None] = None,
        occurred_before: FromQuery[datetime | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        status: FromQuery[str | None] = None,
        sort: FromQuery[str] = "-occurred_at",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ActivityPage:
        """Activities in the caller's scope, newest first (`sort`: `-occurred_at`, `-updated_at`)."""
        f = service.ActivityFilter(
            rep_id=rep_id, types=types, account_id=account_id, contact_id=contact_id,
            lead_id=lead_id, opportunity_id=opportunity_id, occurred_after=occurred_after,
            occurred_before=occurred_before, updated_since=updated_since, status=status,
        )
        rows, nxt = await service.list_activities(access, f, sort=sort, limit=limit, cursor=cursor)
        return ActivityPage(items=[activity_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="activities_create", status_code=201, responses={
        200: ResponseSpec(data_container=ActivityOut, description="A replay: this id and content were stored before"),
    })
    async def create_activity(self, data: JSONBody[ActivityIn],
                              access: NamedDependency[Scope]) -> Response[ActivityOut]:
        """Record an activity. Re-sending the same `id` and content answers 200 with the stored one."""
        async with unit_of_work():
            row, created = await service.create_activity(access, data)
        return Response(activity_out(row), status_code=201 if created else 200,
                        headers=etag(row["version"]))

    @get("/{activity_id:uuid}", operation_id="activities_get")
    async def get_activity(self, activity_id: FromPath[uuid.UUID],
                           access: NamedDependency[Scope]) -> Response[ActivityOut]:
        row = await service.get_activity(access, activity_id)
        return Response(activity_out(row), headers=etag(row["version"]))

    @get("/{activity_id:uuid}/amendments", operation_id="activities_amendments")
    async def list_amendments(self, activity_id: FromPath[uuid.UUID],
                              access: NamedDependency[Scope]) -> list[AmendmentOut]:
        """The corrections made to an activity, oldest first: who changed which field from what to what."""
        return [amendment_out(r) for r in await amendments.list_amendments(access, activity_id)]

    @patch("/{activity_id:uuid}", operation_id="activities_update")
    async def update_activity(self, activity_id: FromPath[uuid.UUID], data: JSONBody[ActivityPatch],
                              access: NamedDependency[Scope],
                              if_match: IfMatch = None) -> Response[ActivityOut]:
        """Amend subject, body, outcome, ended_at or duration_s; other fields answer 422."""
        async with unit_of_work():
            row = await service.update_activity(access, activity_id, data, if_match_version(if_match))
        return Response(activity_out(row), headers=etag(row["version"]))

    @delete("/{activity_id:uuid}", operation_id="activities_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_activity(self, activity_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> None:
        """Delete (tombstone); only the rep who logged it, their managers or an admin."""
        async with unit_of_work():
            await service.delete_activity(access, activity_id)
