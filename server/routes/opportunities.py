"""HTTP for opportunities and their stage history. Amounts travel as decimal strings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.pipeline import opportunities as service
from server.pipeline.schemas import (
    OpportunityIn,
    OpportunityOut,
    OpportunityPage,
    OpportunityPatch,
    Stage,
    StageChangeOut,
    opportunity_out,
    stage_change_out,
)
from server.routes.common import IfMatch, etag, if_match_version

#: `open` is a Python builtin, so the handler argument has another name.
OpenOnly = Annotated[bool | None, QueryParameter(name="open", required=False)]


class OpportunityController(Controller):
    path = "/api/v1/opportunities"
    tags = ["opportunities"]

    @get("/", operation_id="opportunities_list")
    async def list_opportunities(
        self,
        access: NamedDependency[Scope],
        owner_id: FromQuery[uuid.UUID | None] = None,
        account_id: FromQuery[uuid.UUID | None] = None,
        stage: FromQuery[list[Stage] | None] = None,
        is_open: OpenOnly = None,
        q: FromQuery[str | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        close_after: FromQuery[date | None] = None,
        close_before: FromQuery[date | None] = None,
        sort: FromQuery[str] = "name",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> OpportunityPage:
        """Deals in the caller's scope, a keyset page at a time.

        `stage` may repeat; `open=true|false` picks open or closed deals; `close_after` and
        `close_before` bound the expected close date (inclusive). `sort` is `name`,
        `-updated_at` or `-created_at`.
        """
        f = service.OpportunityFilter(
            owner_id=owner_id, account_id=account_id, stages=stage, is_open=is_open, q=q,
            updated_since=updated_since, close_after=close_after, close_before=close_before,
        )
        rows, nxt = await service.list_opportunities(access, f, sort=sort, limit=limit, cursor=cursor)
        return OpportunityPage(items=[opportunity_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="opportunities_create")
    async def create_opportunity(self, data: JSONBody[OpportunityIn],
                                 access: NamedDependency[Scope]) -> Response[OpportunityOut]:
        """Open a deal on an account the caller sees. `amount` is a decimal: send a string or a
        number, it comes back as a string with two places (`"1250.50"`), never a float."""
        async with unit_of_work():
            row = await service.create_opportunity(access, data)
        return Response(opportunity_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{opportunity_id:uuid}", operation_id="opportunities_get")
    async def get_opportunity(self, opportunity_id: FromPath[uuid.UUID],
                              access: NamedDependency[Scope]) -> Response[OpportunityOut]:
        row = await service.get_opportunity(access, opportunity_id)
        return Response(opportunity_out(row), headers=etag(row["version"]))

    @patch("/{opportunity_id:uuid}", operation_id="opportunities_update")
    async def update_opportunity(self, opportunity_id: FromPath[uuid.UUID],
                                 data: JSONBody[OpportunityPatch], access: NamedDependency[Scope],
                                 if_match: IfMatch = None) -> Response[OpportunityOut]:
        """Change some fields; a stage move is recorded in the stage history.
        Send `If-Match: "<version>"` to refuse overwriting newer data (412)."""
        async with unit_of_work():
            row = await service.update_opportunity(access, opportunity_id, data,
                                                   if_match_version(if_match))
        return Response(opportunity_out(row), headers=etag(row["version"]))

    @delete("/{opportunity_id:uuid}", operation_id="opportunities_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_opportunity(self, opportunity_id: FromPath[uuid.UUID],
                                 access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_opportunity(access, opportunity_id)

    @get("/{opportunity_id:uuid}/stage-history", operation_id="opportunities_stage_history")
    async def stage_history(self, opportunity_id: FromPath[uuid.UUID],
                            access: NamedDependency[Scope]) -> list[StageChangeOut]:
        """Every stage the deal went through, oldest first, with the amount at the time."""
        return [stage_change_out(r) for r in await service.stage_history(access, opportunity_id)]
