"""Wire types of territories: the three ways to give an area, edits, and what is returned."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from server.common.schemas import Name
from server.geo.cells import MAX_TERRITORY_RESOLUTION, MIN_TERRITORY_RESOLUTION

Layer = Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"^[a-z0-9_\-]+$")]
Resolution = Annotated[int, msgspec.Meta(ge=MIN_TERRITORY_RESOLUTION, le=MAX_TERRITORY_RESOLUTION)]
#: At most this many cells (compacted, as given) in one request; the expanded set is capped by cells.MAX_CELLS.
CellList = Annotated[list[str], msgspec.Meta(max_length=50_000)]
ZipList = Annotated[list[str], msgspec.Meta(max_length=2_000)]
Owners = Annotated[list[uuid.UUID], msgspec.Meta(max_length=50)]


class Area(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Exactly one of: H3 cells (any resolutions 4..9), a GeoJSON Polygon/MultiPolygon ([lng, lat]), ZIP codes."""

    cells: CellList | None = None
    geojson: dict[str, Any] | None = None
    zips: ZipList | None = None
    #: Resolution a polygon or ZIP list is filled at (default 7, ~5 km² cells).
    resolution: Resolution | None = None


class TerritoryIn(Area, forbid_unknown_fields=True, kw_only=True):
    name: Name
    layer: Layer = "primary"
    #: Overlay territories (e.g. specialists over the primary layer) may overlap others of their layer.
    overlay: bool = False
    owner_ids: Owners = []
    region_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    effective_from: datetime | None = None


class TerritoryPatch(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Only the fields present change. Give one of cells / geojson / zips to redraw the area."""

    name: Name | UnsetType = UNSET
    cells: CellList | UnsetType = UNSET
    geojson: dict[str, Any] | UnsetType = UNSET
    zips: ZipList | UnsetType = UNSET
    resolution: Resolution | UnsetType = UNSET
    overlay: bool | UnsetType = UNSET
    owner_ids: Owners | UnsetType = UNSET
    region_id: uuid.UUID | None | UnsetType = UNSET
    parent_id: uuid.UUID | None | UnsetType = UNSET


class TerritoryOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    layer: str
    overlay: bool
    region_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    #: Compacted: mixed resolutions, each cell standing for all its descendants.
    cells: list[str]
    resolution: int
    effective_from: datetime
    geometry_version: int
    version: int
    owner_ids: list[uuid.UUID]
    accounts: int


class TerritoryPage(msgspec.Struct):
    items: list[TerritoryOut]


class Overlap(msgspec.Struct):
    layer: str
    territories: list[uuid.UUID]
    #: Overlap size in cells at the finer territory's resolution.
    cells: int
    sample: list[str]


class Hole(msgspec.Struct):
    layer: str
    #: The hole's outline, GeoJSON Polygon ([lng, lat]).
    outline: dict[str, Any]
    cells: int
    accounts: int


class Outside(msgspec.Struct):
    count: int
    sample: list[uuid.UUID]


class Checks(msgspec.Struct):
    overlaps: list[Overlap]
    holes: list[Hole]
    accounts_outside: Outside
