"""The offline map package through HTTP: geometry and figures parts, ETags and 304s, scope, gzip."""

import gzip
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from server.accounts.tables import Account
from server.common.location import point_columns
from server.common.records import insert_record
from server.common.time import utcnow
from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo import mapkit
from server.geo.cells import compact, disk, latlng_to_cell
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from tests.activity_builders import make_activity
from tests.builders import auth_headers, make_org, make_user

CHICAGO = (41.8781, -87.6298)
MILWAUKEE = (43.0389, -87.9065)


def area(lat: float, lng: float, k: int = 3) -> list[str]:
    return compact(disk(latlng_to_cell(lat, lng, 7), k))


async def make_territory(owner, centre, name: str, k: int = 3) -> uuid.UUID:
    async with unit_of_work():
        row = await insert_record(Territory, owner.org_id, {"name": name, "cells": area(*centre, k),
                                                            "resolution": 7})
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=owner.org_id, territory_id=row["id"],
                                                   user_id=owner.id))
    return row["id"]


async def make_placed_account(owner, territory_id, lat, lng, potential: str | None) -> uuid.UUID:
    """An account at (lat, lng) placed in ``territory_id`` (what ``server.geo.placement`` does)."""
    async with unit_of_work():
        row = await insert_record(Account, owner.org_id, {
            "name": f"Account {uuid.uuid4().hex[:6]}", "owner_id": owner.id, **point_columns(lat, lng),
            "potential": None if potential is None else Decimal(potential)})
        await TerritoryAccount.insert(TerritoryAccount(id=new_id(), org_id=owner.org_id,
                                                       territory_id=territory_id, account_id=row["id"]))
    return row["id"]


async def seed():
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, "rep", manager=manager)
    other = await make_user(org, "rep")
    mine = await make_territory(rep, CHICAGO, "Chicago Loop")
    theirs = await make_territory(other, MILWAUKEE, "Milwaukee")
    return org, admin, manager, rep, other, mine, theirs


async def change_cells(territory_id: uuid.UUID, cells: list[str]) -> None:
    """What a territory edit does to the geometry: new cells, geometry_version + 1."""
    async with unit_of_work():
        row = await Territory.select(Territory.geometry_version).where(Territory.id == territory_id).first()
        await Territory.update({Territory.cells: cells, Territory.geometry_version: row["geometry_version"] + 1,
                                Territory.updated_at: utcnow()}).where(Territory.id == territory_id)


async def test_geometry_part_answers_304_until_the_cells_change(client):
    _, _, _, rep, _, mine, _ = await seed()
    h = await auth_headers(client, rep)
    url = f"/api/v1/territories/{mine}/map"
    r = await client.get(url, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == str(mine) and body["name"] == "Chicago Loop" and body["layer"] == "primary"
    assert body["geometry_version"] == 1 and body["resolution"] == 7
    assert body["cells"] == area(*CHICAGO)
    outline = body["outline"]
    assert outline["type"] == "MultiPolygon" and len(outline["coordinates"]) == 1
    lng, lat = outline["coordinates"][0][0][0]  # GeoJSON order: [lng, lat]
    assert abs(lng - CHICAGO[1]) < 0.3 and abs(lat - CHICAGO[0]) < 0.3
    etag = r.headers["etag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "private" in r.headers["cache-control"]

    again = await client.get(url, headers={**h, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    weak = await client.get(url, headers={**h, "If-None-Match": f'"other", W/{etag}'})
    assert weak.status_code == 304

    await change_cells(mine, area(*CHICAGO, k=4))
    changed = await client.get(url, headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["geometry_version"] == 2 and changed.json()["cells"] == area(*CHICAGO, k=4)
    assert (await client.get(url, headers={**h, "If-None-Match": changed.headers["etag"]})).status_code == 304
    # A rename is no geometry change, but the part carries the name: no stale 304.
    async with unit_of_work():
        await Territory.update({Territory.name: "Loop"}).where(Territory.id == mine)
    renamed = await client.get(url, headers={**h, "If-None-Match": changed.headers["etag"]})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Loop"


async def test_all_territories_under_one_etag(client):
    _, admin, manager, rep, _, mine, theirs = await seed()
    url = "/api/v1/territories/map"
    h = await auth_headers(client, rep)
    r = await client.get(url, headers=h)
    assert r.status_code == 200 and [t["id"] for t in r.json()["items"]] == [str(mine)]
    etag = r.headers["etag"]
    assert (await client.get(url, headers={**h, "If-None-Match": etag})).status_code == 304
    everyone = (await client.get(url, headers=await auth_headers(client, admin))).json()["items"]
    assert sorted(t["id"] for t in everyone) == sorted([str(mine), str(theirs)])
    team = (await client.get(url, headers=await auth_headers(client, manager))).json()["items"]
    assert [t["id"] for t in team] == [str(mine)]

    await change_cells(mine, area(*CHICAGO, k=2))
    changed = await client.get(url, headers={**h, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["items"][0]["cells"] == area(*CHICAGO, k=2)
    # Another rep's territory changing leaves this rep's package alone.
    await change_cells(theirs, area(*MILWAUKEE, k=2))
    assert (await client.get(url, headers={**h, "If-None-Match": changed.headers["etag"]})).status_code == 304


async def test_figures_built_on_first_request_then_refreshed_by_the_job(client):
    org, admin, _, rep, other, mine, theirs = await seed()
    now = utcnow()
    a = await make_placed_account(rep, mine, *CHICAGO, "1000.10")
    b = await make_placed_account(rep, mine, CHICAGO[0] + 0.0001, CHICAGO[1], "0.20")  # same cell as a
    await make_placed_account(rep, mine, 41.90, -87.65, None)
    await make_placed_account(rep, mine, None, None, "5")  # placed, no location: totals only
    await make_placed_account(other, theirs, *MILWAUKEE, "7")
    await make_activity(rep, type="visit", account_id=a, occurred_at=now - timedelta(minutes=5))
    await make_activity(rep, type="visit", account_id=b, occurred_at=now - timedelta(minutes=10))
    await make_activity(rep, type="call", account_id=b, occurred_at=now - timedelta(minutes=10))
    await make_activity(rep, type="visit", account_id=b, occurred_at=now - timedelta(days=40))  # other month

    h = await auth_headers(client, rep)
    url = f"/api/v1/territories/{mine}/map/figures"
    r = await client.get(url, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["territory_id"] == str(mine) and body["resolution"] == 9
    loop = latlng_to_cell(*CHICAGO)
    cells = {c["cell"]: c for c in body["cells"]}
    assert set(cells) == {loop, latlng_to_cell(41.90, -87.65)}
    assert cells[loop] == {"cell": loop, "accounts": 2, "potential": "1000.30", "visits_this_month": 2} \
        or now.day == 1  # right after midnight on the 1st the older visit may fall in last month
    assert body["totals"] == {"accounts": 4, "potential": "1005.30", "visits_this_month": 2,
                              "unlocated_accounts": 1} or now.day == 1
    etag = r.headers["etag"]
    assert (await client.get(url, headers={**h, "If-None-Match": etag})).status_code == 304
    admin_h = await auth_headers(client, admin)
    theirs_r = await client.get(f"/api/v1/territories/{theirs}/map/figures", headers=admin_h)
    theirs_etag = theirs_r.headers["etag"]

    # Nothing changed: the job writes nothing and the ETags stay.
    assert await mapkit.refresh_figures(org) == 0
    assert (await client.get(url, headers={**h, "If-None-Match": etag})).status_code == 304

    # A new account: figures are the job's, so still the old ones until it runs.
    await make_placed_account(rep, mine, 41.90, -87.65, "10")
    assert (await client.get(url, headers={**h, "If-None-Match": etag})).status_code == 304
    assert await mapkit.refresh_figures(org) == 1  # only the territory that changed
    fresh = await client.get(url, headers={**h, "If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert {c["cell"]: c["accounts"] for c in fresh.json()["cells"]}[latlng_to_cell(41.90, -87.65)] == 2
    unchanged = await client.get(f"/api/v1/territories/{theirs}/map/figures",
                                 headers={**admin_h, "If-None-Match": theirs_etag})
    assert unchanged.status_code == 304


async def test_all_figures_under_one_etag(client):
    org, admin, _, rep, other, mine, theirs = await seed()
    await make_placed_account(rep, mine, *CHICAGO, "10")
    url = "/api/v1/territories/map/figures"
    admin_h = await auth_headers(client, admin)
    r = await client.get(url, headers=admin_h)  # none built yet: built on this request
    assert r.status_code == 200, r.text
    assert sorted(i["territory_id"] for i in r.json()["items"]) == sorted([str(mine), str(theirs)])
    etag = r.headers["etag"]
    assert (await client.get(url, headers={**admin_h, "If-None-Match": etag})).status_code == 304
    h = await auth_headers(client, rep)
    rep_r = await client.get(url, headers=h)
    assert [i["territory_id"] for i in rep_r.json()["items"]] == [str(mine)]
    rep_etag = rep_r.headers["etag"]

    await make_placed_account(other, theirs, *MILWAUKEE, "7")
    assert await mapkit.refresh_figures(org) == 1
    assert (await client.get(url, headers={**admin_h, "If-None-Match": etag})).status_code == 200
    assert (await client.get(url, headers={**h, "If-None-Match": rep_etag})).status_code == 304


async def test_a_rep_cannot_fetch_another_reps_or_another_orgs_territory(client):
    _, _, _, rep, _, mine, theirs = await seed()
    stranger = await make_user(await make_org(), "admin")
    h = await auth_headers(client, rep)
    for path in (f"/api/v1/territories/{theirs}/map", f"/api/v1/territories/{theirs}/map/figures",
                 f"/api/v1/territories/{uuid.uuid4()}/map"):
        r = await client.get(path, headers=h)
        assert r.status_code == 404 and r.json()["code"] == "not_found", path
    s = await auth_headers(client, stranger)
    for path in (f"/api/v1/territories/{mine}/map", f"/api/v1/territories/{mine}/map/figures"):
        assert (await client.get(path, headers=s)).status_code == 404
    assert (await client.get("/api/v1/territories/map", headers=s)).json() == {"items": []}
    for path in (f"/api/v1/territories/{mine}/map", "/api/v1/territories/map",
                 "/api/v1/territories/map/figures"):
        assert (await client.get(path)).status_code == 401


async def test_parts_are_gzipped_when_the_client_accepts_it(client):
    _, _, _, rep, _, mine, _ = await seed()
    for i in range(30):
        await make_placed_account(rep, mine, CHICAGO[0] + i * 0.002, CHICAGO[1], "100")
    h = await auth_headers(client, rep)
    for path in (f"/api/v1/territories/{mine}/map", f"/api/v1/territories/{mine}/map/figures"):
        zipped = await client.get(path, headers={**h, "Accept-Encoding": "gzip"})
        assert zipped.status_code == 200 and zipped.headers["content-encoding"] == "gzip", path
        assert "accept-encoding" in zipped.headers["vary"].lower()
        plain = await client.get(path, headers={**h, "Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert zipped.json() == plain.json()
        assert int(zipped.headers["content-length"]) < len(plain.content)
        assert gzip.decompress(gzip.compress(plain.content)) == plain.content


def test_month_window_follows_the_org_time_zone():
    now = datetime(2025, 7, 1, 3, 0, tzinfo=UTC)  # still June in Chicago
    assert mapkit.month_window(now, "America/Chicago") == (
        "2025-06", datetime(2025, 6, 1, 5, 0, tzinfo=UTC), datetime(2025, 7, 1, 5, 0, tzinfo=UTC))
    assert mapkit.month_window(now, "UTC")[0] == "2025-07"
    assert mapkit.month_window(datetime(2025, 12, 15, tzinfo=UTC), "Nowhere/Zone")[2] == datetime(2026, 1, 1,
                                                                                                   tzinfo=UTC)
