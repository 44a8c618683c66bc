"""HTTP for territories: parse, call ``server.geo.territories`` / ``checks``, return structs."""

from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_204_NO_CONTENT

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.geo import planning
from server.geo import territories as service
from server.geo.checks import run_checks
from server.geo.plan_schemas import ApplyResult, BalanceIn, PlanOut, plan_out
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
    tags = ("territories",)

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


SVG = "image/svg+xml"


class TerritoryPlanController(Controller):
    path = "/api/v1/territories"
    tags = ("territories",)

    @post("/balance", operation_id="territories_balance")
    async def balance(self, data: JSONBody[BalanceIn], access: NamedDependency[Scope]) -> Response[PlanOut]:
        """Balance a region into territories and keep the plan as a draft (201); tolerances that cannot be
        met are reported in the plan (`report.met`, `report.problems`), not refused."""
        row = await planning.make_plan(access, data)  # balances outside the transaction that stores it
        return Response(plan_out(row), status_code=201,
                        headers={"Location": f"/api/v1/territories/plans/{row['id']}"})

    @get("/plans/{plan_id:uuid}", operation_id="territories_plan_get")
    async def get_plan(self, plan_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> PlanOut:
        return plan_out(await planning.get_plan(access, plan_id))

    @get("/plans/{plan_id:uuid}/map.svg", operation_id="territories_plan_svg", media_type=SVG)
    async def plan_svg(self, plan_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> Response[str]:
        """The plan as a map: territories coloured, lumps marked."""
        svg = await planning.plan_svg(access, plan_id)
        return Response(svg, media_type=SVG, headers={"Cache-Control": "private, max-age=300"})

    @post("/plans/{plan_id:uuid}/apply", operation_id="territories_plan_apply", status_code=200)
    async def apply_plan(self, plan_id: FromPath[uuid.UUID], access: NamedDependency[Scope]) -> ApplyResult:
        """Apply a draft plan (admin, or a manager of its region) in one transaction; 409 `plan_stale` when
        the layer's territories changed since it was made."""
        async with unit_of_work():
            return await planning.apply_plan(access, plan_id)

    @get("/map.svg", operation_id="territories_svg", media_type=SVG)
    async def current_svg(self, access: NamedDependency[Scope], layer: FromQuery[str] = "primary") -> Response[str]:
        """The current territories of a layer in the caller's scope as a map."""
        return Response(await planning.current_svg(access, layer), media_type=SVG)
