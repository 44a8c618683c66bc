"""HTTP for territories: parse, call ``server.geo.territories`` / ``checks``, return structs."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.geo import territories as service
from server.geo.checks import run_checks
from server.geo.schemas import (
    Checks,
    TerritoryIn,
    TerritoryOut,
    TerritoryPage,
    TerritoryPatch,
)
from server.routes.common import IfMatch, etag, if_match_version


class TerritoryController(Controller):
    path = "/api/v1/territories"
    tags = ["territories"]

    @get("/", operation_id="territories_list")
    async def list_territories(self, access: NamedDependency[Scope],
                               layer: FromQuery[str | None] = None) -> TerritoryPage:
        """Territories in the caller's scope (a rep: their own; a manager: their team's; an admin: all)."""
        rows = await service.list_territories(access, layer)
        return TerritoryPage(items=await service.describe(access.org_id, rows))

    @post("/", operation_id="territories_create")
    async def create_territory(self, data: JSONBody[TerritoryIn],
                               access: NamedDependency[Scope]) -> Response[TerritoryOut]:
        """Create from exactly one of `cells`, `geojson` ([lng, lat]) or `zips`; 409 `territory_overlap`
        when it overlaps a territory of its layer (unless `overlay`). Its accounts move to its owners."""
        async with unit_of_work():
            row = await service.create_territory(access, data)
        [out] = await service.describe(access.org_id, [row])
        return Response(out, status_code=201, headers=etag(row["version"]))

    @get("/checks", operation_id="territories_checks")
    async def checks(self, access: NamedDependency[Scope], layer: FromQuery[str | None] = None) -> Checks:
        """Overlaps between territories of a layer, holes in a layer, and accounts outside every territory."""
        return await run_checks(access, layer)

    @get("/{territory_id:uuid}", operation_id="territories_get")
    async def get_territory(self, territory_id: FromPath[uuid.UUID],
                            access: NamedDependency[Scope]) -> Response[TerritoryOut]:
        row = await service.get_territory(access, territory_id)
        [out] = await service.describe(access.org_id, [row])
        return Response(out, headers=etag(row["version"]))

    @patch("/{territory_id:uuid}", operation_id="territories_update")
    async def update_territory(self, territory_id: FromPath[uuid.UUID], data: JSONBody[TerritoryPatch],
                               access: NamedDependency[Scope], if_match: IfMatch = None) -> Response[TerritoryOut]:
        """Rename, redraw (one of `cells` / `geojson` / `zips`) or reassign (`owner_ids`)."""
        async with unit_of_work():
            row = await service.update_territory(access, territory_id, data, if_match_version(if_match))
        [out] = await service.describe(access.org_id, [row])
        return Response(out, headers=etag(row["version"]))

    @delete("/{territory_id:uuid}", operation_id="territories_delete", status_code=HTTP_204_NO_CONTENT)
    async def delete_territory(self, territory_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> None:
        async with unit_of_work():
            await service.delete_territory(access, territory_id)
