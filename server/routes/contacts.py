"""HTTP for contacts: parse, call ``server.accounts.contacts``, return structs."""

from __future__ import annotations

import uuid
from datetime import datetime

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.accounts import contacts as service
from server.accounts.contact_schemas import (
    ContactIn,
    ContactOut,
    ContactPage,
    ContactPatch,
    contact_out,
)
from server.common.schemas import MergeIn
from server.db.tx import unit_of_work
from server.routes.common import IfMatch, etag, if_match_version
from server.sync.merge import merge


class ContactController(Controller):
    path = "/api/v1/contacts"
    tags = ["contacts"]

    @get("/", operation_id="contacts_list")
    async def list_contacts(
        self,
        access: NamedDependency[Scope],
        account_id: FromQuery[uuid.UUID | None] = None,
        owner_id: FromQuery[uuid.UUID | None] = None,
        q: FromQuery[str | None] = None,
        updated_since: FromQuery[datetime | None] = None,
        sort: FromQuery[str] = "name",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> ContactPage:
        """Contacts in the caller's scope, a keyset page at a time.

        `sort` is `name` (last name), `-updated_at` or `-created_at`; `q` searches names.
        """
        f = service.ContactFilter(account_id=account_id, owner_id=owner_id, q=q,
                                  updated_since=updated_since)
        rows, nxt = await service.list_contacts(access, f, sort=sort, limit=limit, cursor=cursor)
        return ContactPage(items=[contact_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="contacts_create")
    async def create_contact(self, data: JSONBody[ContactIn],
                             access: NamedDependency[Scope]) -> Response[ContactOut]:
        async with unit_of_work():
            row = await service.create_contact(access, data)
        return Response(contact_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{contact_id:uuid}", operation_id="contacts_get")
    async def get_contact(self, contact_id: FromPath[uuid.UUID],
                          access: NamedDependency[Scope]) -> Response[ContactOut]:
        row = await service.get_contact(access, contact_id)
        return Response(contact_out(row), headers=etag(row["version"]))

    @patch("/{contact_id:uuid}", operation_id="contacts_update")
    async def update_contact(self, contact_id: FromPath[uuid.UUID], data: JSONBody[ContactPatch],
                             access: NamedDependency[Scope],
                             if_match: IfMatch = None) -> Response[ContactOut]:
        """Change some fields; send `If-Match: "<version>"` to refuse overwriting newer data (412)."""
        async with unit_of_work():
            row = await service.update_contact(access, contact_id, data, if_match_version(if_match))
        return Response(contact_out(row), headers=etag(row["version"]))


    @post("/{contact_id:uuid}/merge", operation_id="contacts_merge", status_code=200)
    async def merge_contact(self, contact_id: FromPath[uuid.UUID], data: JSONBody[MergeIn],
                             access: NamedDependency[Scope]) -> Response[ContactOut]:
        """Fold a duplicate (made offline by another rep) into this record, moving its history."""
        async with unit_of_work():
            row = await merge(access, "contacts", contact_id, data.duplicate_id, access.contacts())
        return Response(contact_out(row), headers=etag(row["version"]))

    @delete("/{contact_id:uuid}", operation_id="contacts_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_contact(self, contact_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_contact(access, contact_id)
