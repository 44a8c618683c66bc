"""The published PostGIS layers, as SQLAlchemy tables with GeoAlchemy2 geometry columns.

Geometries are WGS84 (SRID 4326), positions in PostGIS order (x = longitude,
y = latitude). Each geometry column has a GiST index (``spatial_index=True``)
so QGIS and other clients can draw and filter them quickly; ``org_id`` is
indexed for the per-org replace that publishing does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from geoalchemy2 import Geometry
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import UUID

from server.geo.gis import DEFAULT_SCHEMA

__all__ = ["DEFAULT_SCHEMA", "SRID", "Layers", "layers"]

SRID = 4326


@dataclass(frozen=True)
class Layers:
    """The published tables of one schema."""

    schema: str
    metadata: MetaData
    territories: Table
    territory_cells: Table
    accounts: Table

    def all(self) -> tuple[Table, Table, Table]:
        return self.territories, self.territory_cells, self.accounts


@cache
def layers(schema: str = DEFAULT_SCHEMA) -> Layers:
    """The published tables in ``schema`` (validated by the caller: see ``connection.check_identifier``)."""
    md = MetaData(schema=schema)
    territories = Table(
        "territories", md,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("org_id", UUID(as_uuid=True), nullable=False),
        Column("name", Text, nullable=False),
        Column("layer", Text, nullable=False),
        Column("overlay", Boolean, nullable=False),
        #: Current owners' names (their email when the name is blank), sorted, comma-separated.
        Column("owners", Text, nullable=False),
        Column("resolution", Integer, nullable=False),
        Column("geometry_version", Integer, nullable=False),
        Column("published_at", DateTime(timezone=True), nullable=False),
        #: Outline of the territory's H3 cells; NULL for a territory without cells.
        Column("geom", Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=True),
        Index(None, "org_id"),
    )
    territory_cells = Table(
        "territory_cells", md,
        Column("territory_id", UUID(as_uuid=True), primary_key=True),
        Column("cell", Text, primary_key=True),
        Column("org_id", UUID(as_uuid=True), nullable=False),
        Column("resolution", Integer, nullable=False),
        Column("geom", Geometry("POLYGON", srid=SRID, spatial_index=True), nullable=False),
        Index(None, "org_id"),
    )
    accounts = Table(
        "accounts", md,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("org_id", UUID(as_uuid=True), nullable=False),
        Column("name", Text, nullable=False),
        Column("status", Text, nullable=False),
        Column("owner_id", UUID(as_uuid=True), nullable=True),
        #: The territory the account is assigned to now (NULL: none).
        Column("territory_id", UUID(as_uuid=True), nullable=True),
        Column("potential", Numeric(14, 2), nullable=True),
        Column("h3_cell", Text, nullable=True),
        Column("geom", Geometry("POINT", srid=SRID, spatial_index=True), nullable=False),
        Index(None, "org_id"),
        Index(None, "territory_id"),
    )
    return Layers(schema, md, territories, territory_cells, accounts)
