"""Boundary layers a customer holds in PostGIS (ZIP areas, counties, sales regions) as territories.

``read_boundaries`` reflects the customer's table with SQLAlchemy (names are
checked against the reflected table and ``geometry_columns``, never pasted
into SQL), reads each row's name and geometry as GeoJSON in WGS84 through
GeoAlchemy2 functions (transformed, 2D, repaired with ``ST_MakeValid``, polygons
only). ``import_boundaries`` turns each boundary into a territory through the
territory service, one unit of work per boundary: an overlapping or invalid
one is reported and skipped, never half-applied.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import msgspec
from geoalchemy2 import Geography, Geometry
from geoalchemy2 import functions as gf
from sqlalchemy import MetaData, Table, Text, case, cast, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from server.access.scope import Scope
from server.common.errors import DomainError
from server.db.tx import unit_of_work
from server.geo.cells import uncompact
from server.geo.gis.connection import GisError, gis_engine, require_postgis
from server.geo.gis.tables import SRID

#: Coordinates are read with 7 decimals (~1 cm): more is noise, and layers can be large.
GEOJSON_DECIMALS = 7
_POLYGONAL = {"POLYGON", "MULTIPOLYGON", "GEOMETRY", "GEOMETRYCOLLECTION", "POLYGONZ", "MULTIPOLYGONZ",
              "POLYGONM", "MULTIPOLYGONM", "POLYGONZM", "MULTIPOLYGONZM"}

_GEOMETRY_COLUMNS = text(
    "SELECT f_geometry_column AS name, type, srid, false AS geography FROM geometry_columns "
    "WHERE f_table_schema = :schema AND f_table_name = :table "
    "UNION ALL SELECT f_geography_column, type, srid, true FROM geography_columns "
    "WHERE f_table_schema = :schema AND f_table_name = :table ORDER BY 1")


@dataclass(frozen=True)
class Boundary:
    name: str
    #: A GeoJSON Polygon or MultiPolygon geometry, WGS84, [lng, lat].
    geojson: dict[str, Any]
    #: Why the stored geometry was invalid, when ST_MakeValid repaired it.
    repaired: str | None = None


@dataclass
class BoundaryLayer:
    table: str
    name_column: str
    geom_column: str
    boundaries: list[Boundary] = field(default_factory=list)
    #: (name, or "row N" when it has none; reason) of rows left out.
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class ImportResult:
    #: (name, territory id; None in a dry run) of what was (or would be) created.
    created: list[tuple[str, uuid.UUID | None]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def split_table(qualified: str) -> tuple[str, str]:
    """``schema.table`` (``table`` alone means ``public``) as (schema, table)."""
    schema, dot, table = qualified.partition(".")
    if not dot:
        schema, table = "public", qualified
    if not schema or not table or "." in table:
        raise GisError(f"--table must be SCHEMA.TABLE, got {qualified!r}")
    return schema, table


async def read_boundaries(database_url: str, table: str, name_column: str,
                          geom_column: str | None = None, name_like: str | None = None) -> BoundaryLayer:
    """The boundaries of ``table`` (``schema.table``), ordered by name. GisError for unknown names."""
    engine = gis_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await read_boundaries_on(conn, table, name_column, geom_column, name_like)
    finally:
        await engine.dispose()


async def read_boundaries_on(conn: AsyncConnection, qualified: str, name_column: str,
                             geom_column: str | None = None, name_like: str | None = None) -> BoundaryLayer:
    await require_postgis(conn)
    schema, name = split_table(qualified)
    source = await conn.run_sync(_reflect, schema, name)
    geom_name, geography = await _geometry_column(conn, source, geom_column)
    if name_column not in source.c:
        raise GisError(f"{qualified} has no column {name_column!r} (columns: {', '.join(source.c.keys())})")
    label = cast(source.c[name_column], Text)
    geom = source.c[geom_name]
    if geography:
        geom = func.geometry(geom, type_=Geometry)
    # Layers without a declared SRID (0) are taken to be WGS84 already.
    wgs84 = gf.ST_Transform(case((gf.ST_SRID(geom) == 0, gf.ST_SetSRID(geom, SRID)), else_=geom), SRID)
    polygons = gf.ST_CollectionExtract(gf.ST_MakeValid(gf.ST_Force2D(wgs84)), 3)
    query = select(
        label.label("name"),
        geom.is_(None).label("missing"),
        gf.ST_IsEmpty(geom).label("empty"),
        case((gf.ST_IsValid(geom), None), else_=gf.ST_IsValidReason(geom)).label("invalid"),
        gf.ST_AsGeoJSON(polygons, GEOJSON_DECIMALS).label("geojson"),
    ).order_by(label)
    if name_like is not None:
        query = query.where(label.ilike(name_like))
    layer = BoundaryLayer(f"{schema}.{name}", name_column, geom_name)
    for i, row in enumerate((await conn.execute(query)).all(), start=1):
        _add(layer, i, row)
    return layer


def _reflect(sync_conn: Any, schema: str, name: str) -> Table:
    inspector = inspect(sync_conn)
    if schema not in inspector.get_schema_names():
        raise GisError(f"no schema {schema!r} in this database")
    if not inspector.has_table(name, schema=schema):
        raise GisError(f"no table or view {schema}.{name}")
    return Table(name, MetaData(), schema=schema, autoload_with=sync_conn)


async def _geometry_column(conn: AsyncConnection, source: Table, wanted: str | None) -> tuple[str, bool]:
    """(column, is geography) from geometry_columns / geography_columns."""
    found = (await conn.execute(_GEOMETRY_COLUMNS, {"schema": source.schema, "table": source.name})).all()
    if not found:  # a view over a computed geometry is not registered; the reflected type tells
        found = [(c.name, getattr(c.type, "geometry_type", None) or "GEOMETRY", 0,
                  isinstance(c.type, Geography))
                 for c in source.c if isinstance(c.type, (Geometry, Geography))]
    columns = {r[0]: r for r in found}
    where = f"{source.schema}.{source.name}"
    if wanted is None:
        if len(columns) != 1:
            raise GisError(f"{where} has no geometry column" if not columns else
                           f"{where} has several geometry columns ({', '.join(columns)}): "
                           "choose one with --geom-column")
        wanted = next(iter(columns))
    if wanted not in columns:
        raise GisError(f"{where} has no geometry column {wanted!r}"
                       + (f" (geometry columns: {', '.join(columns)})" if columns else ""))
    kind = str(columns[wanted][1] or "GEOMETRY").upper()
    if kind not in _POLYGONAL:
        raise GisError(f"{where}.{wanted} holds {kind} geometries: boundaries need polygons")
    return wanted, bool(columns[wanted][3])


def _add(layer: BoundaryLayer, i: int, row: Any) -> None:
    name = (row.name or "").strip()
    if not name:
        layer.skipped.append((f"row {i}", "no name"))
        return
    if row.missing:
        layer.skipped.append((name, "no geometry (NULL)"))
        return
    if row.empty:
        layer.skipped.append((name, "empty geometry"))
        return
    geojson = json.loads(row.geojson) if row.geojson else None
    if not geojson or not geojson.get("coordinates"):
        reason = "no polygon area" + (f" (invalid geometry: {row.invalid})" if row.invalid else "")
        layer.skipped.append((name, reason))
        return
    layer.boundaries.append(Boundary(name, geojson, row.invalid))


# -- import ------------------------------------------------------------------------

class _DryRun(Exception):
    """Raised inside a unit of work to roll back what a dry run created."""

    def __init__(self, row: Any) -> None:
        self.row = row


async def import_boundaries(scope: Scope, boundaries: list[Boundary], *, layer: str = "primary",
                            overlay: bool = False, resolution: int | None = None,
                            dry_run: bool = False) -> ImportResult:
    """Create a territory per boundary, each in its own unit of work.

    A boundary the service refuses (overlap, bad geometry, duplicate name...)
    is reported in ``skipped`` with the service's code and message. A dry run
    creates each territory and rolls it back: it is checked against the
    territories already stored and against the earlier boundaries of the same
    run (by their cells), and nothing is written.
    """
    from server.geo.schemas import TerritoryIn
    from server.geo.territories import create_territory

    result = ImportResult()
    claimed: dict[str, str] = {}  # dry run: cell -> boundary that would own it
    for b in boundaries:
        try:
            # convert, not the constructor: the wire type's limits (name, layer, resolution) apply.
            data = msgspec.convert({"name": b.name, "layer": layer, "overlay": overlay,
                                    "geojson": b.geojson, "resolution": resolution}, TerritoryIn)
            if not dry_run:
                async with unit_of_work():
                    row = await create_territory(scope, data)
                result.created.append((b.name, _id(row)))
                continue
            try:
                async with unit_of_work():
                    raise _DryRun(await create_territory(scope, data))
            except _DryRun as done:
                row = done.row
        except (DomainError, ValueError) as exc:
            result.skipped.append((b.name, _reason(exc)))
            continue
        clash = None if overlay else _claim(claimed, b.name, row)
        if clash:
            result.skipped.append((b.name, f"territory_overlap: overlaps {clash!r} of this import"))
        else:
            result.created.append((b.name, None))
    return result


def _id(row: Any) -> uuid.UUID | None:
    value = row.get("id") if isinstance(row, dict) else getattr(row, "id", None)
    return value if isinstance(value, uuid.UUID) else None


def _reason(exc: Exception) -> str:
    if isinstance(exc, DomainError):
        return f"{exc.code}: {exc.message}"
    return f"invalid: {exc}"


def _claim(claimed: dict[str, str], name: str, row: Any) -> str | None:
    """In a dry run, the earlier boundary sharing cells with this one, else record its cells."""
    cells = row.get("cells") if isinstance(row, dict) else None
    res = row.get("resolution") if isinstance(row, dict) else None
    if isinstance(cells, str):
        cells = json.loads(cells)
    if not cells or not isinstance(res, int):
        return None
    try:
        fine = uncompact(cells, res)
    except ValueError:
        return None
    for cell in fine:
        if cell in claimed:
            return claimed[cell]
    claimed.update(dict.fromkeys(fine, name))
    return None
