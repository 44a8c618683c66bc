"""Publish an org's territories and accounts to PostGIS layers (``fieldsales gis publish``).

Our data is read with Piccolo; the layers are written with SQLAlchemy Core and
GeoAlchemy2 on a separate asyncpg connection. Each org is replaced in one
transaction (delete its rows, bulk insert the new ones), so a GIS client sees
the old layers or the new ones, never a mix, and re-running is idempotent.

What is drawn is the territory's H3 cells, not a surveyed boundary: each
territory's compacted cells are expanded to its resolution and outlined by
``server.geo.outlines.cells_to_geojson`` (the outline phones draw too).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import h3
from geoalchemy2.shape import from_shape
from shapely.geometry import Point, Polygon, shape
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateSchema

from server.accounts.tables import Account
from server.common.time import utcnow
from server.geo.cells import cell_outline, latlng_to_position, uncompact
from server.geo.gis.connection import check_identifier, ensure_postgis, gis_engine
from server.geo.gis.orgs import Org
from server.geo.gis.tables import DEFAULT_SCHEMA, SRID, Layers, layers
from server.geo.outlines import cells_to_geojson
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner


@dataclass
class Published:
    org: Org
    territories: int = 0
    cells: int = 0
    accounts: int = 0
    seconds: float = 0.0
    #: Rows left out or drawn without geometry, and why.
    warnings: list[str] = field(default_factory=list)


@dataclass
class OrgLayers:
    """One org's rows for the three layers, ready to insert."""

    territories: list[dict[str, Any]] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    accounts: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def publish(database_url: str, orgs: Sequence[Org], schema: str = DEFAULT_SCHEMA) -> list[Published]:
    """Publish each org's layers into ``schema``, one transaction per org.

    GisError when the database is not PostgreSQL or PostGIS is missing and
    cannot be created.
    """
    check_identifier(schema)
    tables = layers(schema)
    engine = gis_engine(database_url)
    try:
        async with engine.begin() as conn:
            await prepare(conn, tables)
        results = []
        for org in orgs:
            started = time.perf_counter()
            data = await read_org(org.id, utcnow())
            async with engine.begin() as conn:
                await replace_org(conn, tables, org.id, data)
            results.append(Published(org, len(data.territories), len(data.cells), len(data.accounts),
                                     time.perf_counter() - started, data.warnings))
        return results
    finally:
        await engine.dispose()


async def prepare(conn: AsyncConnection, tables: Layers) -> None:
    """PostGIS, the schema and the tables with their spatial indexes, where missing."""
    await ensure_postgis(conn)
    await conn.execute(CreateSchema(tables.schema, if_not_exists=True))
    await conn.run_sync(tables.metadata.create_all)


async def replace_org(conn: AsyncConnection, tables: Layers, org_id: uuid.UUID, data: OrgLayers) -> None:
    """Replace the org's rows (inside the caller's transaction)."""
    # Two publishes of one org at once would both insert after both deleted.
    await conn.execute(select(func.pg_advisory_xact_lock(
        func.hashtext(f"fieldsales.gis.publish:{tables.schema}:{org_id}"))))
    for table in tables.all():
        await conn.execute(delete(table).where(table.c.org_id == org_id))
    for table, rows in ((tables.territories, data.territories), (tables.territory_cells, data.cells),
                        (tables.accounts, data.accounts)):
        if rows:  # a list of rows: SQLAlchemy batches them into multi-row INSERTs
            await conn.execute(table.insert(), rows)


def _ewkb(geometry: Any) -> Any:
    return from_shape(geometry, srid=SRID, extended=True)


async def read_org(org_id: uuid.UUID, now: datetime) -> OrgLayers:
    """The org's current territories, their cells and its located accounts, as layer rows."""
    out = OrgLayers()
    territories = await Territory.select(
        Territory.id, Territory.name, Territory.layer, Territory.overlay, Territory.cells,
        Territory.resolution, Territory.geometry_version,
    ).where(
        (Territory.org_id == org_id) & Territory.deleted_at.is_null()
        & (Territory.effective_from <= now)
        & (Territory.effective_to.is_null() | (Territory.effective_to > now))
    ).order_by(Territory.id).output(load_json=True)
    owners = await _owner_names(org_id)
    for t in territories:
        out.territories.append(_territory_row(org_id, t, owners.get(t["id"], []), now, out))
    primary = {t["id"] for t in territories if t["layer"] == "primary" and not t["overlay"]}
    published = {t["id"] for t in territories}
    out.accounts = await _account_rows(org_id, primary, published, out)
    return out


def _territory_row(org_id: uuid.UUID, t: dict, owners: list[str], now: datetime, out: OrgLayers) -> dict:
    geom = None
    cells = t["cells"] or []
    try:
        # Drawn at the territory's resolution: a compacted parent hexagon is not exactly the
        # union of its children, and membership is decided by the children.
        res = max([t["resolution"], *(h3.get_resolution(c) for c in cells if h3.is_valid_cell(c))])
        fine = uncompact(cells, res) if cells else []
        if fine:
            geom = _ewkb(shape(cells_to_geojson(fine, precision=None)))
        out.cells.extend({"territory_id": t["id"], "cell": c, "org_id": org_id, "resolution": res,
                          "geom": _ewkb(Polygon(cell_outline(c)))} for c in fine)
    except ValueError as exc:  # bad cells or too many: the territory is listed without geometry
        out.warnings.append(f"territory {t['name']!r} ({t['id']}) published without geometry: {exc}")
    return {"id": t["id"], "org_id": org_id, "name": t["name"], "layer": t["layer"],
            "overlay": bool(t["overlay"]), "owners": ", ".join(owners), "resolution": t["resolution"],
            "geometry_version": t["geometry_version"], "published_at": now, "geom": geom}


async def _owner_names(org_id: uuid.UUID) -> dict[uuid.UUID, list[str]]:
    rows = await TerritoryOwner.select(
        TerritoryOwner.territory_id, TerritoryOwner.user_id.full_name.as_alias("full_name"),
        TerritoryOwner.user_id.email.as_alias("email"),
    ).where((TerritoryOwner.org_id == org_id) & TerritoryOwner.valid_to.is_null())
    names: dict[uuid.UUID, set[str]] = {}
    for r in rows:
        names.setdefault(r["territory_id"], set()).add((r["full_name"] or "").strip() or r["email"])
    return {t: sorted(n) for t, n in names.items()}


async def _account_rows(org_id: uuid.UUID, primary: set[uuid.UUID], published: set[uuid.UUID],
                        out: OrgLayers) -> list[dict]:
    links = await TerritoryAccount.select(TerritoryAccount.account_id, TerritoryAccount.territory_id).where(
        (TerritoryAccount.org_id == org_id) & TerritoryAccount.valid_to.is_null())
    # An account on an overlay layer too has several current links: the primary territory wins.
    territory: dict[uuid.UUID, uuid.UUID] = {}
    for link in sorted(links, key=lambda r: (r["territory_id"] not in primary,
                                             r["territory_id"] not in published, str(r["territory_id"]))):
        territory.setdefault(link["account_id"], link["territory_id"])
    accounts = await Account.select(
        Account.id, Account.name, Account.status, Account.owner_id, Account.potential, Account.h3_cell,
        Account.lat, Account.lng,
    ).where((Account.org_id == org_id) & Account.deleted_at.is_null() & Account.merged_into_id.is_null()
            & Account.lat.is_not_null() & Account.lng.is_not_null())
    rows, bad = [], 0
    for a in accounts:
        try:
            position = latlng_to_position(a["lat"], a["lng"])
        except ValueError:
            bad += 1
            continue
        rows.append({"id": a["id"], "org_id": org_id, "name": a["name"], "status": a["status"],
                     "owner_id": a["owner_id"], "territory_id": territory.get(a["id"]),
                     "potential": a["potential"], "h3_cell": a["h3_cell"], "geom": _ewkb(Point(position))})
    if bad:
        out.warnings.append(f"{bad} account(s) with coordinates out of range left out")
    return rows
