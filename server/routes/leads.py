"""HTTP for leads and lead conversion: parse, call the pipeline services, return structs."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.accounts.contact_schemas import contact_out
from server.accounts.schemas import account_out
from server.common.schemas import MergeIn
from server.db.tx import unit_of_work
from server.pipeline import leads as service
from server.pipeline.conversion import convert_lead
from server.pipeline.schemas import (
    ConversionOut,
    ConvertIn,
    LeadIn,
    LeadOut,
    LeadPage,
    LeadPatch,
    LeadSource,
    LeadStatus,
    lead_out,
    opportunity_out,
)
from server.routes.common import IfMatch, etag, if_match_version
from server.sync.merge import merge


class LeadController(Controller):
    path = "/api/v1/leads"
    tags = ["leads"]

    @get("/", operation_id="leads_list")
    async def list_leads(
        self,
        access: NamedDependency[Scope],
        owner_id: FromQuery[uuid.UUID | None] = None,
        unowned: FromQuery[bool] = False,
        status: FromQuery[LeadStatus | None] = None,
        source: FromQuery[LeadSource | None] = None,
        q: FromQuery[str | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        sort: FromQuery[str] = "-created_at",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> LeadPage:
        """Leads in the caller's scope (own, team's, or unowned in their territories), a keyset
        page at a time. `sort` is `-created_at`, `-updated_at` or `name` (last name)."""
        f = service.LeadFilter(owner_id=owner_id, unowned=unowned, status=status, source=source,
                               q=q, updated_since=updated_since)
        rows, nxt = await service.list_leads(access, f, sort=sort, limit=limit, cursor=cursor)
        return LeadPage(items=[lead_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="leads_create")
    async def create_lead(self, data: JSONBody[LeadIn], access: NamedDependency[Scope]) -> Response[LeadOut]:
        async with unit_of_work():
            row = await service.create_lead(access, data)
        return Response(lead_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{lead_id:uuid}", operation_id="leads_get")
    async def get_lead(self, lead_id: FromPath[uuid.UUID],
                       access: NamedDependency[Scope]) -> Response[LeadOut]:
        row = await service.get_lead(access, lead_id)
        return Response(lead_out(row), headers=etag(row["version"]))

    @patch("/{lead_id:uuid}", operation_id="leads_update")
    async def update_lead(self, lead_id: FromPath[uuid.UUID], data: JSONBody[LeadPatch],
                          access: NamedDependency[Scope], if_match: IfMatch = None) -> Response[LeadOut]:
        """Change some fields or move the status; a converted lead answers 409 `lead_converted`."""
        async with unit_of_work():
            row = await service.update_lead(access, lead_id, data, if_match_version(if_match))
        return Response(lead_out(row), headers=etag(row["version"]))


    @post("/{lead_id:uuid}/merge", operation_id="leads_merge", status_code=200)
    async def merge_lead(self, lead_id: FromPath[uuid.UUID], data: JSONBody[MergeIn],
                             access: NamedDependency[Scope]) -> Response[LeadOut]:
        """Fold a duplicate (made offline by another rep) into this record, moving its history."""
        async with unit_of_work():
            row = await merge(access, "leads", lead_id, data.duplicate_id, access.leads())
        return Response(lead_out(row), headers=etag(row["version"]))

    @delete("/{lead_id:uuid}", operation_id="leads_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_lead(self, lead_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_lead(access, lead_id)

    @post("/{lead_id:uuid}/convert", operation_id="leads_convert", status_code=HTTP_200_OK)
    async def convert(self, lead_id: FromPath[uuid.UUID], data: JSONBody[ConvertIn],
                      access: NamedDependency[Scope], if_match: IfMatch = None) -> Response[ConversionOut]:
        """Turn the lead into an account (new or `account_id`), a contact and an opportunity,
        all or nothing. A second conversion answers 409 `lead_converted`."""
        async with unit_of_work():
            done = await convert_lead(access, lead_id, data, if_match_version(if_match))
        body = ConversionOut(
            lead=lead_out(done.lead), account=account_out(done.account),
            contact=contact_out(done.contact) if done.contact else None,
            opportunity=opportunity_out(done.opportunity) if done.opportunity else None,
        )
        return Response(body, headers=etag(done.lead["version"]))
