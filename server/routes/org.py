"""HTTP for the caller's organisation settings: parse, call ``server.orgs.settings``, return structs."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch
from litestar.di import NamedDependency
from litestar.params import JSONBody

from server.access.scope import Scope
from server.config import Settings
from server.db.tx import unit_of_work
from server.orgs import settings as service
from server.orgs.settings import OrgOut, OrgPatch


def public_base(request: Request[Any, Any, Any]) -> str:
    """Where providers reach this server: ``public_url`` when set, else the request's own base."""
    settings: Settings = request.app.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")


class OrgController(Controller):
    path = "/api/v1/org"
    tags = ("organisation",)  # a tuple: class attributes stay immutable

    @get("/", operation_id="org_get")
    async def get_org(self, request: Request[Any, Any, Any], access: NamedDependency[Scope]) -> OrgOut:
        """The caller's organisation and the webhook URLs to give the SMS/call and email providers."""
        return await service.get_org(access, public_base(request))

    @patch("/", operation_id="org_update")
    async def update_org(self, request: Request[Any, Any, Any], data: JSONBody[OrgPatch],
                         access: NamedDependency[Scope]) -> OrgOut:
        """Admins only (403 `admin_only`). Only the fields sent change; `null` clears `sms_from` or
        `email_from`. `slug` and `base_currency` cannot be changed."""
        async with unit_of_work():
            return await service.update_org(access, data, public_base(request))
