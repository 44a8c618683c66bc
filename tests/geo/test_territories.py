"""Territories through HTTP: the three ways to draw one, overlap refusals, placement, sync moves, checks, rights."""

from __future__ import annotations

import uuid

import h3
import pytest

from server.db.tx import unit_of_work
from server.geo.cells import cell_to_parent, latlng_to_cell
from server.geo.placement import place_accounts
from server.geo.tables import Territory
from tests.builders import auth_headers, make_org, make_user
from tests.sync.phone import Phone

# Chicago: a territory cell and account positions inside it.
LAT, LNG = 41.88, -87.63
CELL7 = latlng_to_cell(LAT, LNG, 7)


def inside(cell: str, k: int = 0) -> tuple[float, float]:
    """A position at the centre of a resolution-9 child of ``cell``."""
    child = sorted(h3.cell_to_children(cell, 9))[k]
    return h3.cell_to_latlng(child)


def square(lat: float, lng: float, d: float) -> dict:
    ring = [[lng - d, lat - d], [lng + d, lat - d], [lng + d, lat + d], [lng - d, lat + d], [lng - d, lat - d]]
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture
async def org(client):
    org_id = await make_org()
    admin = await make_user(org_id, "admin")
    manager = await make_user(org_id, "manager")
    rep = await make_user(org_id, "rep", manager=manager)
    rep2 = await make_user(org_id, "rep", manager=manager)
    headers = {p.id: await auth_headers(client, p) for p in (admin, manager, rep, rep2)}
    return type("Org", (), {"id": org_id, "admin": admin, "manager": manager, "rep": rep, "rep2": rep2,
                            "h": headers})


async def make_account(client, headers, name, lat, lng, owner_id=None) -> dict:
    r = await client.post("/api/v1/accounts", json={"name": name, "lat": lat, "lng": lng, "owner_id": owner_id},
                          headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def account_ids(client, headers) -> set[str]:
    r = await client.get("/api/v1/accounts", params={"limit": 200}, headers=headers)
    assert r.status_code == 200, r.text
    return {a["id"] for a in r.json()["items"]}


async def test_cells_territory_places_accounts_and_reps_see_them(client, org):
    admin = org.h[org.admin.id]
    a = await make_account(client, admin, "In", *inside(CELL7))
    far = await make_account(client, admin, "Far", 45.0, -93.0)
    r = await client.post("/api/v1/territories", headers=admin, json={
        "name": "Loop", "cells": [CELL7], "owner_ids": [str(org.rep.id)]})
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["cells"] == [CELL7] and t["owner_ids"] == [str(org.rep.id)] and t["accounts"] == 1
    assert t["geometry_version"] == 1 and r.headers["etag"] == f'"{t["version"]}"'
    assert await account_ids(client, org.h[org.rep.id]) == {a["id"]}
    assert await account_ids(client, org.h[org.rep2.id]) == set()
    # An account created later inside the territory is placed at once.
    b = await make_account(client, admin, "Later", *inside(CELL7, 5))
    assert await account_ids(client, org.h[org.rep.id]) == {a["id"], b["id"]}
    # The rep sees the territory; the other rep does not (404, as if it did not exist).
    assert (await client.get(f"/api/v1/territories/{t['id']}", headers=org.h[org.rep.id])).status_code == 200
    assert (await client.get(f"/api/v1/territories/{t['id']}", headers=org.h[org.rep2.id])).status_code == 404
    listed = (await client.get("/api/v1/territories", headers=org.h[org.rep.id])).json()["items"]
    assert [x["id"] for x in listed] == [t["id"]] and listed[0]["accounts"] == 2
    checks = (await client.get("/api/v1/territories/checks", headers=admin)).json()
    assert checks["accounts_outside"] == {"count": 1, "sample": [far["id"]]}


async def test_overlap_is_refused_unless_overlay(client, org):
    admin = org.h[org.admin.id]
    first = await client.post("/api/v1/territories", headers=admin, json={"name": "A", "cells": [CELL7]})
    assert first.status_code == 201
    child = sorted(h3.cell_to_children(CELL7, 9))[3]
    r = await client.post("/api/v1/territories", headers=admin, json={"name": "B", "cells": [child]})
    assert r.status_code == 409 and r.json()["code"] == "territory_overlap"
    assert r.json()["territories"] == [first.json()["id"]] and r.json()["sample"] == [child]
    # Coarser over finer counts too.
    r = await client.post("/api/v1/territories", headers=admin,
                          json={"name": "C", "cells": [cell_to_parent(CELL7, 5)]})
    assert r.status_code == 409
    # Another layer, or an overlay, may overlap.
    assert (await client.post("/api/v1/territories", headers=admin, json={
        "name": "Specialist", "cells": [CELL7], "layer": "specialists"})).status_code == 201
    assert (await client.post("/api/v1/territories", headers=admin, json={
        "name": "Overlay", "cells": [cell_to_parent(CELL7, 6)], "overlay": True})).status_code == 201
    names = {t["name"] for t in (await client.get("/api/v1/territories", headers=admin)).json()["items"]}
    assert names == {"A", "Specialist", "Overlay"}


async def test_cells_of_mixed_resolution_are_stored_compacted(client, org):
    admin = org.h[org.admin.id]
    children = sorted(h3.cell_to_children(CELL7, 8))
    fine = sorted(h3.cell_to_children(children[0], 9))
    # All of CELL7 given as six res-8 children plus the seventh as its res-9 children: one cell stored.
    r = await client.post("/api/v1/territories", headers=admin,
                          json={"name": "Mixed", "cells": [*children[1:], *fine, fine[0]]})
    assert r.status_code == 201, r.text
    assert r.json()["cells"] == [CELL7] and r.json()["resolution"] == 7
    neighbour = h3.grid_ring(CELL7, 1)[0]
    r = await client.post("/api/v1/territories", headers=admin,
                          json={"name": "Next door", "cells": [neighbour, *sorted(h3.cell_to_children(CELL7, 9))[:2]]})
    assert r.status_code == 409 and r.json()["cells"] == 2


async def test_geojson_and_zip_territories(client, org):
    admin = org.h[org.admin.id]
    await make_account(client, admin, "Anchor", LAT, LNG)
    r = await client.post("/api/v1/territories", headers=admin, json={
        "name": "Square", "geojson": square(LAT, LNG, 0.05), "resolution": 8})
    assert r.status_code == 201, r.text
    cells = r.json()["cells"]
    assert latlng_to_cell(LAT, LNG, 8) in h3.uncompact_cells(cells, 8)
    assert r.json()["accounts"] == 1
    # Manhattan ZIPs (another layer, so no overlap with Chicago anyway).
    r = await client.post("/api/v1/territories", headers=admin, json={
        "name": "Midtown", "zips": ["10001", "10018"], "resolution": 9, "layer": "zips"})
    assert r.status_code == 201, r.text
    midtown = h3.uncompact_cells(r.json()["cells"], 9)
    assert latlng_to_cell(40.7484, -73.9967, 9) in midtown  # 10001's centroid
    assert len(midtown) < 200


@pytest.mark.parametrize("body, code", [
    ({"zips": ["00000", "10001"]}, "unknown_zip"),
    ({"geojson": {"type": "Point", "coordinates": [1, 2]}}, "invalid_geojson"),
    ({"geojson": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}}, "invalid_geojson"),
    ({"geojson": {"type": "Polygon", "coordinates": [[[179.5, 10], [-179.5, 10], [-179.5, 11], [179.5, 10]]]}},
     "invalid_geojson"),
    ({"geojson": square(LNG, LAT, 0.05)}, "invalid_geojson"),  # [lat, lng] swapped
    ({"cells": ["not-a-cell"]}, "invalid_cells"),
    ({"cells": [latlng_to_cell(LAT, LNG, 11)]}, "invalid_cells"),
    ({"cells": []}, "empty_region"),
    ({"geojson": square(LAT, LNG, 0.0001), "resolution": 4}, "empty_region"),
    ({}, "area_required"),
    ({"cells": [CELL7], "zips": ["10001"]}, "area_required"),
])
async def test_bad_areas_get_422_with_a_code_and_store_nothing(client, org, body, code):
    admin = org.h[org.admin.id]
    await make_account(client, admin, "Anchor", LAT, LNG)
    r = await client.post("/api/v1/territories", headers=admin, json={"name": "Bad", **body})
    assert r.status_code == 422, r.text
    assert r.json()["code"] == code, r.json()
    assert (await client.get("/api/v1/territories", headers=admin)).json()["items"] == []


async def test_redraw_moves_accounts_between_reps_phones(client, org):
    admin = org.h[org.admin.id]
    west, east = latlng_to_cell(LAT, LNG - 0.1, 7), CELL7
    acc = await make_account(client, admin, "Shop", *inside(east))
    t1 = (await client.post("/api/v1/territories", headers=admin, json={
        "name": "West", "cells": [west], "owner_ids": [str(org.rep.id)]})).json()
    t2 = (await client.post("/api/v1/territories", headers=admin, json={
        "name": "East", "cells": [east], "owner_ids": [str(org.rep2.id)]})).json()
    p1, p2 = await Phone(client, org.rep).login(), await Phone(client, org.rep2).login()
    await p1.pull()
    await p2.pull()
    assert acc["id"] not in p1.ids("accounts") and acc["id"] in p2.ids("accounts")
    # East shrinks to nothing near the shop, West takes the shop's cell.
    other = latlng_to_cell(LAT + 0.3, LNG, 7)
    r = await client.patch(f"/api/v1/territories/{t2['id']}", headers=admin, json={"cells": [other]})
    assert r.status_code == 200 and r.json()["geometry_version"] == 2 and r.json()["accounts"] == 0
    r = await client.patch(f"/api/v1/territories/{t1['id']}", headers=admin, json={"cells": [west, east]})
    assert r.status_code == 200, r.text
    assert r.json()["accounts"] == 1
    await p1.pull()
    await p2.pull()
    assert acc["id"] in p1.ids("accounts") and acc["id"] not in p2.ids("accounts")
    # Redraws re-place only the accounts in the cells that changed hands: a full pass finds nothing left.
    async with unit_of_work():
        assert (await place_accounts(org.id))[:3] == (0, 0, 0)
    # Reassigning the owner moves it again.
    r = await client.patch(f"/api/v1/territories/{t1['id']}", headers=admin, json={"owner_ids": [str(org.rep2.id)]})
    assert r.status_code == 200 and r.json()["owner_ids"] == [str(org.rep2.id)]
    await p1.pull()
    await p2.pull()
    assert acc["id"] not in p1.ids("accounts") and acc["id"] in p2.ids("accounts")
    # Deleting the territory takes it (and the shop) off the phone.
    assert (await client.delete(f"/api/v1/territories/{t1['id']}", headers=admin)).status_code == 204
    await p2.pull()
    assert acc["id"] not in p2.ids("accounts") and t1["id"] not in p2.ids("territories")


async def test_checks_report_overlaps_and_holes(client, org):
    admin = org.h[org.admin.id]
    ring = h3.grid_ring(CELL7, 1)
    r = await client.post("/api/v1/territories", headers=admin, json={"name": "Donut", "cells": ring})
    assert r.status_code == 201
    await make_account(client, admin, "In the hole", *inside(CELL7))
    checks = (await client.get("/api/v1/territories/checks", headers=admin)).json()
    assert checks["overlaps"] == []
    [hole] = checks["holes"]
    assert hole["cells"] == 1 and hole["accounts"] == 1 and hole["outline"]["type"] == "Polygon"
    assert checks["accounts_outside"]["count"] == 1
    # An overlap stored before the rule (e.g. an old import) is reported.
    other = (await client.post("/api/v1/territories", headers=admin,
                               json={"name": "Other", "cells": [CELL7]})).json()
    await Territory.update({Territory.cells: '["' + ring[0] + '"]'}).where(Territory.id == uuid.UUID(other["id"]))
    checks = (await client.get("/api/v1/territories/checks", headers=admin)).json()
    [o] = checks["overlaps"]
    assert o["cells"] == 1 and o["sample"] == [ring[0]] and set(o["territories"]) == {r.json()["id"], other["id"]}
    assert (await client.get("/api/v1/territories/checks", headers=org.h[org.rep.id])).status_code == 403


async def test_rights(client, org):
    rep = org.h[org.rep.id]
    r = await client.post("/api/v1/territories", headers=rep, json={"name": "Mine", "cells": [CELL7]})
    assert r.status_code == 403
    # A manager may create territories for their team, not for someone outside it.
    outsider = await make_user(org.id, "rep")
    manager = org.h[org.manager.id]
    r = await client.post("/api/v1/territories", headers=manager, json={
        "name": "Team", "cells": [CELL7], "owner_ids": [str(org.rep.id)]})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/territories", headers=manager, json={
        "name": "Theirs", "cells": [latlng_to_cell(LAT + 1, LNG, 7)], "owner_ids": [str(outsider.id)]})
    assert r.status_code == 403 and r.json()["code"] == "not_your_team"
    tid = (await client.get("/api/v1/territories", headers=manager)).json()["items"][0]["id"]
    r = await client.patch(f"/api/v1/territories/{tid}", headers=rep, json={"name": "Renamed"})
    assert r.status_code == 403
    # Another org's admin cannot see or touch it.
    other_org = await make_org()
    stranger = await auth_headers(client, await make_user(other_org, "admin"))
    assert (await client.get(f"/api/v1/territories/{tid}", headers=stranger)).status_code == 404
    assert (await client.patch(f"/api/v1/territories/{tid}", headers=stranger, json={"name": "x"})).status_code == 404
    assert (await client.delete(f"/api/v1/territories/{tid}", headers=stranger)).status_code == 404
    assert (await client.get("/api/v1/territories")).status_code == 401
    # Unknown owner: 422, nothing stored.
    r = await client.post("/api/v1/territories", headers=org.h[org.admin.id], json={
        "name": "Ghost", "cells": [latlng_to_cell(LAT - 1, LNG, 7)], "owner_ids": [str(uuid.uuid4())]})
    assert r.status_code == 422 and r.json()["code"] == "unknown_owner"
