"""HTTP for message templates: parse, call ``server.comms.template_service``, return structs."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.comms import template_service as service
from server.comms.template_service import (
    Channel,
    MessageTemplateIn,
    MessageTemplateOut,
    MessageTemplatePage,
    MessageTemplatePatch,
    RenderedMessage,
    TemplateRenderIn,
    template_out,
)
from server.db.tx import unit_of_work
from server.routes.common import IfMatch, etag, if_match_version


class TemplateController(Controller):
    path = "/api/v1/message-templates"
    tags = ("message templates",)  # a tuple: class attributes stay immutable

    @get("/", operation_id="message_templates_list")
    async def list_templates(
        self,
        access: NamedDependency[Scope],
        channel: FromQuery[Channel | None] = None,
        active: FromQuery[bool | None] = None,
        sort: FromQuery[str] = "name",
        limit: FromQuery[int | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> MessageTemplatePage:
        """The org's templates, a keyset page at a time; `sort` is `name`, `-updated_at` or `-created_at`."""
        rows, nxt = await service.list_templates(access, channel=channel, active=active, sort=sort,
                                                 limit=limit, cursor=cursor)
        return MessageTemplatePage(items=[template_out(r) for r in rows], next_cursor=nxt)

    @post("/", operation_id="message_templates_create")
    async def create_template(self, data: JSONBody[MessageTemplateIn],
                              access: NamedDependency[Scope]) -> Response[MessageTemplateOut]:
        """Managers and admins only (403 for reps)."""
        async with unit_of_work():
            row = await service.create_template(access, data)
        return Response(template_out(row), status_code=201, headers=etag(row["version"]))

    @get("/{template_id:uuid}", operation_id="message_templates_get")
    async def get_template(self, template_id: FromPath[uuid.UUID],
                           access: NamedDependency[Scope]) -> Response[MessageTemplateOut]:
        row = await service.get_template(access, template_id)
        return Response(template_out(row), headers=etag(row["version"]))

    @patch("/{template_id:uuid}", operation_id="message_templates_update")
    async def update_template(self, template_id: FromPath[uuid.UUID], data: JSONBody[MessageTemplatePatch],
                              access: NamedDependency[Scope],
                              if_match: IfMatch = None) -> Response[MessageTemplateOut]:
        """Change some fields; send `If-Match: "<version>"` to refuse overwriting newer data (412)."""
        async with unit_of_work():
            row = await service.update_template(access, template_id, data, if_match_version(if_match))
        return Response(template_out(row), headers=etag(row["version"]))

    @delete("/{template_id:uuid}", operation_id="message_templates_delete",
            status_code=HTTP_204_NO_CONTENT)
    async def delete_template(self, template_id: FromPath[uuid.UUID],
                              access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_template(access, template_id)

    @post("/{template_id:uuid}/render", operation_id="message_templates_render", status_code=200)
    async def render_template(self, template_id: FromPath[uuid.UUID], data: JSONBody[TemplateRenderIn],
                              access: NamedDependency[Scope]) -> RenderedMessage:
        """The template filled from an account (and contact) the caller sees, with the caller as `rep`.

        Missing values take the placeholder's default (`{{contact.first_name|there}}`) or
        nothing; 404 when the template, account or contact is not visible.
        """
        return await service.render_template(access, template_id, data)
