"""HTTP for the offline map package: geometry and figures of territories, each with its ETag.

Send ``If-None-Match`` with the ETag last received: an unchanged part answers
304 with no body. Bodies are JSON, gzipped when the client accepts it (the
app's compression), ``Cache-Control: private`` (they depend on who asks).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.enums import MediaType
from litestar.params import FromPath, HeaderParameter
from litestar.status_codes import HTTP_200_OK, HTTP_304_NOT_MODIFIED

from server.access.scope import Scope
from server.db.tx import unit_of_work
from server.geo import mapkit
from server.geo.mapkit import (
    Missing,
    Part,
    TerritoryFiguresListOut,
    TerritoryFiguresOut,
    TerritoryMapOut,
    TerritoryMapsOut,
)

#: The ETags the client holds (comma-separated, weak or strong, or ``*``).
IfNoneMatch = Annotated[str | None, HeaderParameter(name="If-None-Match", required=False)]
#: Private: the parts depend on the caller's scope. ``no-cache``: a cached copy is revalidated
#: (a cheap 304) before use, so a phone never draws an outdated territory while online.
CACHE_CONTROL = "private, no-cache"


def known_etags(header: str | None) -> frozenset[str]:
    """``If-None-Match`` as bare tags: ``W/"a", "b"`` -> {a, b} (weak comparison, RFC 9110 13.1.2)."""
    if not header:
        return frozenset()
    return frozenset(t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip())


def _answer(part: Part) -> Response:
    headers = {"ETag": f'"{part.etag}"', "Cache-Control": CACHE_CONTROL}
    if part.body is None:
        return Response(content=None, status_code=HTTP_304_NOT_MODIFIED, headers=headers)
    # The body is JSON already (built once, or stored by the figures job): sent as is.
    return Response(content=part.body, status_code=HTTP_200_OK, media_type=MediaType.JSON, headers=headers)


async def _figures(ask, org_id: uuid.UUID) -> Part:
    """``ask()`` until no figures are missing: missing ones are built in this request's unit of work."""
    found = await ask()
    for _ in range(3):  # again only if a territory appeared meanwhile
        if not isinstance(found, Missing):
            return found
        async with unit_of_work():
            await mapkit.fill_figures(org_id, found.territory_ids)
        found = await ask()
    raise RuntimeError("territory figures still missing after building them")


class TerritoryMapController(Controller):
    path = "/api/v1/territories"
    tags = ("territory maps",)

    @get("/map", operation_id="territory_maps_geometry")
    async def all_geometry(self, access: NamedDependency[Scope],
                           if_none_match: IfNoneMatch = None) -> Response[TerritoryMapsOut]:
        """Geometry of every territory the caller sees and in effect now, under one ETag."""
        return _answer(await mapkit.all_geometry(access, known_etags(if_none_match)))

    @get("/map/figures", operation_id="territory_maps_figures")
    async def all_figures(self, access: NamedDependency[Scope],
                          if_none_match: IfNoneMatch = None) -> Response[TerritoryFiguresListOut]:
        """Figures layers (per resolution-9 cell: accounts, potential, visits this month) of the same."""
        known = known_etags(if_none_match)
        return _answer(await _figures(lambda: mapkit.all_figures(access, known), access.org_id))

    @get("/{territory_id:uuid}/map", operation_id="territory_map_geometry")
    async def geometry(self, territory_id: FromPath[uuid.UUID], access: NamedDependency[Scope],
                       if_none_match: IfNoneMatch = None) -> Response[TerritoryMapOut]:
        """A territory's compacted cells and outline (GeoJSON MultiPolygon, [lng, lat])."""
        return _answer(await mapkit.territory_geometry(access, territory_id, known_etags(if_none_match)))

    @get("/{territory_id:uuid}/map/figures", operation_id="territory_map_figures")
    async def figures(self, territory_id: FromPath[uuid.UUID], access: NamedDependency[Scope],
                      if_none_match: IfNoneMatch = None) -> Response[TerritoryFiguresOut]:
        """A territory's figures layer, as the figures job last built it."""
        known = known_etags(if_none_match)
        return _answer(await _figures(lambda: mapkit.territory_figures(access, territory_id, known),
                                      access.org_id))
