"""HTTP for the admins' inbox of unmatched inbound messages: parse, call ``server.comms.inbox``, return structs."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from server.access.scope import Scope
from server.comms import inbox as service
from server.comms.inbox import (
    InboxAssignIn,
    InboxChannel,
    InboxItemOut,
    InboxPage,
    InboxState,
    inbox_out,
)
from server.db.tx import unit_of_work

#: ``?state=open``: the parameter cannot be called ``state`` in Python (Litestar reserves it for app state).
StateFilter = Annotated[InboxState | None, QueryParameter(name="state", required=False,
                                                          description="open, assigned or dismissed")]


class InboxController(Controller):
    path = "/api/v1/inbox"
    tags = ("inbox",)

    @get("/", operation_id="inbox_list")
    async def list_items(
        self,
        access: NamedDependency[Scope],
        state_filter: StateFilter = None,
        channel: FromQuery[InboxChannel | None] = None,
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> InboxPage:
        """Inbound messages nobody could be matched to, newest received first. Admins only (403 `admin_only`)."""
        rows, nxt = await service.list_items(access, state=state_filter, channel=channel, limit=limit, cursor=cursor)
        return InboxPage(items=[inbox_out(r) for r in rows], next_cursor=nxt)

    @get("/{item_id:uuid}", operation_id="inbox_get")
    async def get_item(self, item_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> InboxItemOut:
        return inbox_out(await service.get_item(access, item_id))

    @post("/{item_id:uuid}/assign", operation_id="inbox_assign", status_code=200)
    async def assign_item(self, item_id: FromPath[uuid.UUID], data: JSONBody[InboxAssignIn],
                          access: NamedDependency[Scope]) -> InboxItemOut:
        """Log the message as an inbound activity of the contact/account (at least one) and its rep.

        The rep defaults to the account's owner, else the contact's (422 `no_rep` when nobody); 422
        `unknown_contact`, `unknown_account`, `unknown_rep`; 409 `already_resolved`.
        The item's `activity_id` names the activity created.
        """
        async with unit_of_work():
            row = await service.assign_item(access, item_id, data)
        return inbox_out(row)

    @post("/{item_id:uuid}/dismiss", operation_id="inbox_dismiss", status_code=200)
    async def dismiss_item(self, item_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> InboxItemOut:
        """Nothing to log (spam, a wrong number); 409 `already_resolved` unless the item is open."""
        async with unit_of_work():
            row = await service.dismiss_item(access, item_id)
        return inbox_out(row)
