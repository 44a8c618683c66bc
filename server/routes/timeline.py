"""HTTP for the customer timeline: parse, call ``server.comms.timeline``, return a page.

One controller at ``/api/v1`` with a handler per record kind; the paths sit
below the record controllers' own (``/accounts/{id}/timeline``) without
overlapping any of their routes (tests/comms/test_timeline.py checks).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter

from server.access.scope import Scope
from server.comms import timeline as service
from server.comms.schemas import ActivityPage

#: ``?type=call&type=visit`` or ``?type=call,visit``; checked by the service (422 ``unknown_type``).
TypeFilter = Annotated[list[str] | None, QueryParameter(
    name="type", required=False,
    description="Activity types (visit, call, text, email, meeting, note, task): repeat or comma-separate.")]


async def _page(access: Scope, kind: str, record_id: uuid.UUID, types: list[str] | None,
                rep_id: uuid.UUID | None, limit: int | None, cursor: str | None) -> ActivityPage:
    f = service.TimelineFilter(types=types, rep_id=rep_id)
    items, nxt = await service.timeline(access, kind, record_id, f, limit=limit, cursor=cursor)
    return ActivityPage(items=items, next_cursor=nxt)


class TimelineController(Controller):
    path = "/api/v1"
    tags = ["timeline"]

    @get("/accounts/{account_id:uuid}/timeline", operation_id="accounts_timeline")
    async def account_timeline(
        self,
        account_id: FromPath[uuid.UUID],
        access: NamedDependency[Scope],
        types: TypeFilter = None,
        rep_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ActivityPage:
        """Every interaction with the account, newest first: activities linked to it, and those
        linked to no account but to one of its contacts or opportunities."""
        return await _page(access, "account", account_id, types, rep_id, limit, cursor)

    @get("/contacts/{contact_id:uuid}/timeline", operation_id="contacts_timeline")
    async def contact_timeline(
        self,
        contact_id: FromPath[uuid.UUID],
        access: NamedDependency[Scope],
        types: TypeFilter = None,
        rep_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ActivityPage:
        """Every interaction with the contact, newest first."""
        return await _page(access, "contact", contact_id, types, rep_id, limit, cursor)

    @get("/leads/{lead_id:uuid}/timeline", operation_id="leads_timeline")
    async def lead_timeline(
        self,
        lead_id: FromPath[uuid.UUID],
        access: NamedDependency[Scope],
        types: TypeFilter = None,
        rep_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ActivityPage:
        """Every interaction with the lead, newest first."""
        return await _page(access, "lead", lead_id, types, rep_id, limit, cursor)

    @get("/opportunities/{opportunity_id:uuid}/timeline", operation_id="opportunities_timeline")
    async def opportunity_timeline(
        self,
        opportunity_id: FromPath[uuid.UUID],
        access: NamedDependency[Scope],
        types: TypeFilter = None,
        rep_id: FromQuery[uuid.UUID | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ActivityPage:
        """Every interaction about the opportunity, newest first."""
        return await _page(access, "opportunity", opportunity_id, types, rep_id, limit, cursor)
