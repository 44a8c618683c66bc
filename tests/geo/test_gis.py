"""PostGIS interop (server/geo/gis): publishing layers and importing boundary layers, on real PostGIS.

These run in the PostgreSQL lane only (``postgres_only``, parametrized to the
``postgres`` engine); without PostGIS they skip locally and fail when
FIELDSALES_TEST_POSTGIS=1 or CI=true says it is there. The CLI runs its own
event loop and binds its own engine (``server.cli.run_db``), so ``cli`` runs
it in a worker thread and binds the test's engine again afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from decimal import Decimal

import asyncpg
import pytest
from click.testing import CliRunner

from server.accounts.tables import Account
from server.common.records import insert_record
from server.db.engine import bind, current_engine
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.cells import compact, disk, latlng_to_cell, uncompact
from server.geo.gis.boundaries import read_boundaries
from server.geo.gis.cli import gis
from server.geo.gis.orgs import Org, find_org
from server.geo.gis.publish import publish
from server.geo.outlines import geojson_to_cells
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from server.orgs.tables import Organisation
from tests.builders import make_org, make_user

postgis_only = [pytest.mark.postgres_only, pytest.mark.parametrize("engine_kind", ["postgres"])]

DENVER = (39.7392, -104.9903)
COLORADO_SPRINGS = (38.8339, -104.8214)
BOULDER = (40.0150, -105.2705)


def on_postgis(fn):
    for mark in postgis_only:
        fn = mark(fn)
    return fn


@pytest.fixture
async def pg(db):
    """An asyncpg connection to the test database, which must have PostGIS."""
    conn = await asyncpg.connect(db.url)
    try:
        if not await conn.fetchval("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'"):
            if os.environ.get("FIELDSALES_TEST_POSTGIS") or os.environ.get("CI", "").lower() == "true":
                pytest.fail("PostGIS is missing from the test databases although FIELDSALES_TEST_POSTGIS/CI "
                            "says it is installed")
            pytest.skip("PostGIS not installed here; scripts/test.sh installs it (required in CI)")
        yield conn
    finally:
        await conn.close()


async def cli(db, tmp_path, *args: str):
    """``fieldsales gis ARGS`` against the test database; returns click's Result."""
    engine = current_engine()
    env = {"FIELDSALES_DATABASE_URL": db.url, "FIELDSALES_SECRET_KEY": "test-secret-" + "x" * 40,
           "FIELDSALES_DATA_DIR": str(tmp_path / "var")}
    try:
        return await asyncio.to_thread(CliRunner().invoke, gis, list(args), env=env)
    finally:
        bind(engine)


async def org_slug(org_id: uuid.UUID) -> str:
    return (await Organisation.select(Organisation.slug).where(Organisation.id == org_id).first())["slug"]


async def make_territory(org_id, name: str, centre: tuple[float, float], owners=(), *, k: int = 3,
                         layer: str = "primary", overlay: bool = False) -> dict:
    cells = compact(disk(latlng_to_cell(*centre, 7), k))
    async with unit_of_work():
        row = await insert_record(Territory, org_id, {
            "name": name, "layer": layer, "overlay": overlay, "cells": cells, "resolution": 7,
            "geometry_version": 1, "field_versions": "{}"})
        for user in owners:
            await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=org_id, territory_id=row["id"],
                                                       user_id=user.id))
    return {**row, "cells": cells}


async def make_account(org_id, name: str, at: tuple[float, float] | None, territory=None, *,
                       deleted: bool = False, potential: str | None = None) -> uuid.UUID:
    lat, lng = at if at else (None, None)
    async with unit_of_work():
        row = await insert_record(Account, org_id, {
            "name": name, "status": "customer", "lat": lat, "lng": lng,
            "h3_cell": latlng_to_cell(lat, lng) if at else None,
            "potential": Decimal(potential) if potential else None, "field_versions": "{}"})
        if territory:
            await TerritoryAccount.insert(TerritoryAccount(id=new_id(), org_id=org_id, territory_id=territory["id"],
                                                           account_id=row["id"]))
        if deleted:
            await Account.update({Account.deleted_at: row["created_at"]}).where(Account.id == row["id"])
    return row["id"]


@pytest.fixture
async def sales_map(pg):
    """Org A: two owned territories around Denver and Colorado Springs, four accounts; org B: one of each."""
    org = await make_org("Rocky Mountain Supply")
    await make_user(org, "admin")
    rep = await make_user(org, "rep", email="dana@example.com")
    other_rep = await make_user(org, "rep", email="eli@example.com")
    north = await make_territory(org, "Denver Metro", DENVER, [rep, other_rep])
    south = await make_territory(org, "Springs", COLORADO_SPRINGS, [other_rep])
    denver = await make_account(org, "Mile High Hardware", DENVER, north, potential="12500.50")
    springs = await make_account(org, "Pikes Peak Paint", COLORADO_SPRINGS, south)
    await make_account(org, "No Address Co", None)
    await make_account(org, "Gone Ltd", DENVER, north, deleted=True)
    other = await make_org("Other Org")
    other_t = await make_territory(other, "Boulder", BOULDER)
    other_a = await make_account(other, "Flatirons Feed", BOULDER, other_t)
    return {"org": org, "north": north, "south": south, "denver": denver, "springs": springs,
            "other": other, "other_territory": other_t, "other_account": other_a, "rep": rep}


async def published(pg, org_id) -> dict[str, int]:
    return {t: await pg.fetchval(f"SELECT count(*) FROM gis.{t} WHERE org_id = $1", org_id)
            for t in ("territories", "territory_cells", "accounts")}


# -- publish ----------------------------------------------------------------------------------

@on_postgis
async def test_publish_writes_valid_layers_in_lng_lat_order(db, pg, sales_map, tmp_path):
    m = sales_map
    result = await cli(db, tmp_path, "publish", "--org", await org_slug(m["org"]))
    assert result.exit_code == 0, result.output
    assert "2 territories" in result.output and "2 accounts" in result.output

    assert await published(pg, m["org"]) == {
        "territories": 2, "territory_cells": 2 * 37, "accounts": 2}  # k=3 disk: 37 cells each
    rows = await pg.fetch("SELECT name, owners, layer, overlay, resolution, geometry_version, "
                          "ST_IsValid(geom) AS valid, ST_SRID(geom) AS srid, GeometryType(geom) AS kind "
                          "FROM gis.territories WHERE org_id = $1 ORDER BY name", m["org"])
    assert [r["name"] for r in rows] == ["Denver Metro", "Springs"]
    assert rows[0]["owners"] == "dana, eli" and rows[1]["owners"] == "eli"
    for r in rows:
        assert (r["valid"], r["srid"], r["kind"], r["layer"], r["overlay"]) == (True, 4326, "MULTIPOLYGON",
                                                                                 "primary", False)
    cells = await pg.fetch("SELECT cell, resolution, ST_IsValid(geom) AS valid, ST_SRID(geom) AS srid "
                           "FROM gis.territory_cells WHERE territory_id = $1", m["north"]["id"])
    assert {c["cell"] for c in cells} == set(uncompact(m["north"]["cells"], 7))
    assert all(c["valid"] and c["srid"] == 4326 and c["resolution"] == 7 for c in cells)

    denver = await pg.fetchrow(
        "SELECT a.name, ST_X(a.geom) AS x, ST_Y(a.geom) AS y, ST_SRID(a.geom) AS srid, a.territory_id, "
        "a.potential, a.status, ST_Contains(t.geom, a.geom) AS inside "
        "FROM gis.accounts a JOIN gis.territories t ON t.id = a.territory_id WHERE a.id = $1", m["denver"])
    assert denver["x"] == pytest.approx(DENVER[1]) and denver["y"] == pytest.approx(DENVER[0])  # x = longitude
    assert denver["srid"] == 4326 and denver["inside"] is True
    assert denver["territory_id"] == m["north"]["id"]
    assert denver["potential"] == Decimal("12500.50") and denver["status"] == "customer"
    # The Denver account lies in one territory only: the outline is not shifted or swapped.
    assert await pg.fetchval("SELECT count(*) FROM gis.territories t, gis.accounts a "
                             "WHERE a.id = $1 AND ST_Contains(t.geom, a.geom)", m["denver"]) == 1
    assert await pg.fetchval("SELECT ST_Contains(t.geom, a.geom) FROM gis.territories t, gis.accounts a "
                             "WHERE a.id = $1 AND t.id = $2", m["springs"], m["south"]["id"])


@on_postgis
async def test_published_layers_have_spatial_indexes(db, pg, sales_map):
    await publish(db.url, [await find_org(await org_slug(sales_map["org"]))])
    indexes = await pg.fetch("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'gis'")
    for table in ("territories", "territory_cells", "accounts"):
        gist = [i["indexdef"] for i in indexes if i["tablename"] == table and "USING gist (geom)" in i["indexdef"]]
        assert gist, f"gis.{table} has no GiST index on geom"
    # QGIS lists layers from geometry_columns.
    registered = await pg.fetch("SELECT f_table_name, type, srid FROM geometry_columns "
                                "WHERE f_table_schema = 'gis' ORDER BY 1")
    assert [tuple(r) for r in registered] == [("accounts", "POINT", 4326),
                                              ("territories", "MULTIPOLYGON", 4326),
                                              ("territory_cells", "POLYGON", 4326)]


@on_postgis
async def test_publishing_again_replaces_only_that_orgs_rows(db, pg, sales_map):
    m = sales_map
    org, other = await find_org(str(m["org"])), await find_org(str(m["other"]))
    await publish(db.url, [other])
    other_before = await pg.fetch("SELECT id, published_at FROM gis.territories WHERE org_id = $1", m["other"])

    first = await publish(db.url, [org])
    snapshot = await pg.fetch("SELECT id, name, owners, ST_AsText(geom) AS wkt FROM gis.territories "
                              "WHERE org_id = $1 ORDER BY id", m["org"])
    accounts = await pg.fetch("SELECT id, territory_id, ST_AsText(geom) AS wkt FROM gis.accounts "
                              "WHERE org_id = $1 ORDER BY id", m["org"])
    second = await publish(db.url, [org])

    assert (first[0].territories, first[0].cells, first[0].accounts) == (second[0].territories, second[0].cells,
                                                                        second[0].accounts) == (2, 74, 2)
    assert await published(pg, m["org"]) == {"territories": 2, "territory_cells": 74, "accounts": 2}
    assert await pg.fetch("SELECT id, name, owners, ST_AsText(geom) AS wkt FROM gis.territories "
                          "WHERE org_id = $1 ORDER BY id", m["org"]) == snapshot
    assert await pg.fetch("SELECT id, territory_id, ST_AsText(geom) AS wkt FROM gis.accounts "
                          "WHERE org_id = $1 ORDER BY id", m["org"]) == accounts
    assert await pg.fetch("SELECT id, published_at FROM gis.territories WHERE org_id = $1",
                          m["other"]) == other_before
    assert await published(pg, m["other"]) == {"territories": 1, "territory_cells": 37, "accounts": 1}

    # A deleted territory disappears from the layer on the next publish.
    await Territory.update({Territory.deleted_at: Territory.created_at}).where(Territory.id == m["south"]["id"])
    await publish(db.url, [org])
    assert (await published(pg, m["org"]))["territories"] == 1


@on_postgis
async def test_publish_all_into_another_schema(db, pg, sales_map, tmp_path):
    result = await cli(db, tmp_path, "publish", "--all", "--schema", "maps")
    assert result.exit_code == 0, result.output
    assert await pg.fetchval("SELECT count(*) FROM maps.accounts") == 3
    assert await pg.fetchval("SELECT count(DISTINCT org_id) FROM maps.territories") == 2


@on_postgis
async def test_publish_refuses_bad_arguments(db, pg, sales_map, tmp_path):
    result = await cli(db, tmp_path, "publish")
    assert result.exit_code != 0 and "--org SLUG or --all" in result.output
    result = await cli(db, tmp_path, "publish", "--org", "no-such-org")
    assert result.exit_code == 1 and "no organisation 'no-such-org'" in result.output
    result = await cli(db, tmp_path, "publish", "--all", "--schema", 'gis"; drop table accounts; --')
    assert result.exit_code == 1 and "lower-case SQL identifier" in result.output


@pytest.mark.parametrize("engine_kind", ["sqlite"])
async def test_publish_on_sqlite_says_postgis_is_needed(db, tmp_path):
    await make_org("Solo")
    result = await cli(db, tmp_path, "publish", "--all")
    assert result.exit_code == 1
    assert "GIS publishing needs PostgreSQL with PostGIS" in result.output
    result = await cli(db, tmp_path, "import", "--table", "customer.counties", "--name-column", "name",
                       "--org", "solo")
    assert result.exit_code == 1 and "needs PostgreSQL with PostGIS" in result.output


# -- import -------------------------------------------------------------------------------------

def square(west: float, south: float, east: float, north: float) -> str:
    return (f"MULTIPOLYGON((({west} {south}, {east} {south}, {east} {north}, {west} {north}, "
            f"{west} {south})))")


ALPHA = (-105.10, 39.60, -104.90, 39.80)
BETA = (-104.90, 39.60, -104.70, 39.80)  # shares Alpha's eastern edge


@pytest.fixture
async def counties(pg):
    """customer.counties: two adjacent squares east of Denver, an empty, a NULL and a bow-tie geometry."""
    await pg.execute("CREATE SCHEMA customer")
    await pg.execute('CREATE TABLE customer.counties (gid serial PRIMARY KEY, "County Name" text, '
                     "fips integer, geom geometry(MultiPolygon, 4326))")
    rows = [("Alpha County", 1, square(*ALPHA)), ("Beta County", 2, square(*BETA)),
            ("Empty County", 3, "MULTIPOLYGON EMPTY"), ("Null County", 4, None),
            ("Bowtie County", 5, ("MULTIPOLYGON(((-104.5 39.6, -104.3 39.8, -104.3 39.6, -104.5 39.8, "
                                 "-104.5 39.6)))")),
            (None, 6, square(-104.2, 39.6, -104.1, 39.7))]
    await pg.executemany('INSERT INTO customer.counties ("County Name", fips, geom) '
                         "VALUES ($1, $2, ST_GeomFromText($3, 4326))", rows)


@pytest.fixture
async def importer(counties):
    """An org with an admin and an account near the counties (where polygons are expected)."""
    org = await make_org("Front Range Sales")
    await make_user(org, "admin")
    await make_account(org, "Aurora Tools", (39.7294, -104.8319))
    return Org(org, await org_slug(org))


def territory_service_ready() -> None:
    try:
        from server.geo.territories import create_territory  # noqa: F401
    except (ImportError, SyntaxError) as exc:  # the service is written alongside this module
        pytest.fail(f"server.geo.territories.create_territory is not importable: {exc!r}")


@on_postgis
async def test_read_boundaries_reports_empty_and_invalid_rows(db, counties):
    layer = await read_boundaries(db.url, "customer.counties", "County Name")
    assert layer.geom_column == "geom"
    assert [b.name for b in layer.boundaries] == ["Alpha County", "Beta County", "Bowtie County"]
    assert sorted(layer.skipped) == [("Empty County", "empty geometry"),
                                     ("Null County", "no geometry (NULL)"), ("row 6", "no name")]
    alpha, _, bowtie = layer.boundaries
    assert alpha.repaired is None and bowtie.repaired and "intersection" in bowtie.repaired.lower()
    assert bowtie.geojson["type"] == "MultiPolygon" and len(bowtie.geojson["coordinates"]) == 2
    ring = alpha.geojson["coordinates"][0][0] if alpha.geojson["type"] == "MultiPolygon" \
        else alpha.geojson["coordinates"][0]
    assert {tuple(p) for p in ring} == {(-105.1, 39.6), (-104.9, 39.6), (-104.9, 39.8), (-105.1, 39.8)}

    only = await read_boundaries(db.url, "customer.counties", "County Name", name_like="b%")
    assert [b.name for b in only.boundaries] == ["Beta County", "Bowtie County"]


@on_postgis
async def test_read_boundaries_transforms_to_wgs84_lng_lat(db, pg):
    await pg.execute("CREATE SCHEMA customer")
    await pg.execute("CREATE TABLE customer.zips (zip text, shape geometry(Polygon, 3857), "
                     "label_point geometry(Point, 3857))")
    await pg.execute("INSERT INTO customer.zips VALUES ('80202', ST_Transform(ST_GeomFromText("
                     "'POLYGON((-105.0 39.74, -104.98 39.74, -104.98 39.76, -105.0 39.76, -105.0 39.74))', 4326), "
                     "3857), ST_Transform(ST_SetSRID(ST_MakePoint(-104.99, 39.75), 4326), 3857))")
    with pytest.raises(Exception, match="several geometry columns"):
        await read_boundaries(db.url, "customer.zips", "zip")
    with pytest.raises(Exception, match="POINT geometries: boundaries need polygons"):
        await read_boundaries(db.url, "customer.zips", "zip", geom_column="label_point")
    layer = await read_boundaries(db.url, "customer.zips", "zip", geom_column="shape")
    [zip_area] = layer.boundaries
    lngs = [p[0] for p in zip_area.geojson["coordinates"][0]]
    lats = [p[1] for p in zip_area.geojson["coordinates"][0]]
    assert min(lngs) == pytest.approx(-105.0) and max(lngs) == pytest.approx(-104.98)
    assert min(lats) == pytest.approx(39.74) and max(lats) == pytest.approx(39.76)


@on_postgis
async def test_import_creates_territories_covering_the_boundaries(db, pg, importer, tmp_path):
    territory_service_ready()
    result = await cli(db, tmp_path, "import", "--table", "customer.counties", "--name-column", "County Name",
                       "--org", importer.slug, "--layer", "counties")
    assert result.exit_code == 0, result.output
    assert "Empty County: skipped, empty geometry" in result.output
    assert "Null County: skipped, no geometry" in result.output
    assert "Bowtie County: invalid geometry repaired" in result.output
    assert "3 territories created" in result.output

    rows = await Territory.select().where(Territory.org_id == importer.id).output(load_json=True)
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"Alpha County", "Beta County", "Bowtie County"}
    assert all(r["layer"] == "counties" and not r["overlay"] for r in rows)
    for name, box in (("Alpha County", ALPHA), ("Beta County", BETA)):
        w, s, e, n = box
        expected = geojson_to_cells({"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                                    7)
        assert len(expected) > 30
        assert set(uncompact(by_name[name]["cells"], 7)) == set(expected), name
    assert not set(uncompact(by_name["Alpha County"]["cells"], 7)) & set(uncompact(by_name["Beta County"]["cells"], 7))


@on_postgis
async def test_import_skips_overlapping_boundaries_and_dry_run_writes_nothing(db, pg, importer, tmp_path):
    territory_service_ready()
    args = ["import", "--table", "customer.counties", "--name-column", "County Name", "--org", importer.slug]
    dry = await cli(db, tmp_path, *args, "--dry-run", "--name-like", "%a county")
    assert dry.exit_code == 0, dry.output
    assert "would create: Alpha County" in dry.output and "would create: Beta County" in dry.output
    assert "nothing written" in dry.output
    assert await Territory.count().where(Territory.org_id == importer.id) == 0

    first = await cli(db, tmp_path, *args, "--name-like", "alpha%")
    assert first.exit_code == 0 and "1 territories created" in first.output, first.output
    again = await cli(db, tmp_path, *args)  # Alpha overlaps itself; the others are new
    assert again.exit_code == 0, again.output
    assert "skipped: Alpha County: territory_overlap" in again.output
    assert "created: Beta County" in again.output
    assert await Territory.count().where(Territory.org_id == importer.id) == 3
    # A dry run sees overlaps between boundaries of the same import too.
    await pg.execute("INSERT INTO customer.counties (\"County Name\", geom) VALUES "
                     "('Gamma County', ST_GeomFromText($1, 4326)), ('Gamma Two', ST_GeomFromText($1, 4326))",
                     square(-103.9, 39.6, -103.7, 39.8))
    dry = await cli(db, tmp_path, *args, "--dry-run", "--name-like", "gamma%")
    assert "would create: Gamma County" in dry.output, dry.output
    assert "skipped: Gamma Two: territory_overlap" in dry.output, dry.output
    assert await Territory.count().where(Territory.org_id == importer.id) == 3


@on_postgis
async def test_import_refuses_unknown_table_and_columns(db, pg, importer, tmp_path):
    base = ["import", "--org", importer.slug]
    cases = [
        (["--table", "customer.nope", "--name-column", "name"], "no table or view customer.nope"),
        (["--table", "nowhere.counties", "--name-column", "name"], "no schema 'nowhere'"),
        (["--table", "customer.counties", "--name-column", "county"], "has no column 'county'"),
        (["--table", "customer.counties", "--name-column", "County Name", "--geom-column", "shape"],
         "has no geometry column 'shape'"),
        (["--table", "customer.counties; drop table accounts", "--name-column", "fips"], "no table or view"),
    ]
    for extra, message in cases:
        result = await cli(db, tmp_path, *base, *extra)
        assert result.exit_code == 1, (extra, result.output)
        assert message in result.output, (extra, result.output)
    assert await pg.fetchval("SELECT count(*) FROM accounts") >= 1
