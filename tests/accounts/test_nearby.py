"""Accounts near a point through HTTP: order, exact radius, scope, not-visited filter, bad input."""

import math
import random
import uuid
from datetime import timedelta

from server.accounts import nearby
from server.accounts.tables import Account
from server.common.location import point_columns
from server.common.records import insert_record
from server.common.time import utcnow
from server.db.tx import unit_of_work
from server.geo.cells import distance_km, latlng_to_cell
from tests.activity_builders import make_activity
from tests.builders import auth_headers, make_org, make_user

HERE = (41.8781, -87.6298)  # Chicago Loop
EARTH_KM = 6371.0072  # h3's radius: distances below agree with the server's to the millimetre
URL = "/api/v1/accounts/nearby"


def north_east(metres: float, bearing_deg: float, origin=HERE) -> tuple[float, float]:
    """The point ``metres`` away from ``origin`` along ``bearing_deg`` (great circle)."""
    lat1, lng1, d, b = (math.radians(origin[0]), math.radians(origin[1]), metres / 1000 / EARTH_KM,
                        math.radians(bearing_deg))
    lat2 = math.asin(math.sin(lat1) * math.cos(d) + math.cos(lat1) * math.sin(d) * math.cos(b))
    lng2 = lng1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(lat1), math.cos(d) - math.sin(lat1) * math.sin(lat2))
    return math.degrees(lat2), math.degrees(lng2)


async def place(owner, name: str, metres: float, bearing: float = 0.0, **fields) -> uuid.UUID:
    lat, lng = north_east(metres, bearing)
    assert abs(distance_km(HERE, (lat, lng)) * 1000 - metres) < 0.01
    async with unit_of_work():
        row = await insert_record(Account, owner.org_id, {"name": name, "owner_id": owner.id,
                                                          **point_columns(lat, lng), **fields})
    return row["id"]


async def seed():
    org = await make_org()
    admin = await make_user(org, "admin")
    rep = await make_user(org, "rep")
    other = await make_user(org, "rep")
    ids = {
        "centre": await place(rep, "Centre Deli", 3),
        "east": await place(rep, "East Bakery", 700, 90, status="customer"),
        "south": await place(rep, "South Tools", 1_200, 180),
        "edge_in": await place(rep, "Edge In", 1_990, 45),
        "edge_out": await place(rep, "Edge Out", 2_010, 225),
        "far": await place(rep, "Far Farm", 15_000, 300),
        "theirs": await place(other, "Their Cafe", 300, 270),
    }
    return org, admin, rep, other, ids


def query(**params) -> dict:
    return {"lat": HERE[0], "lng": HERE[1], **params}


async def test_nearest_first_exact_at_the_edge_with_distances(client):
    _, _, rep, _, ids = await seed()
    h = await auth_headers(client, rep)
    r = await client.get(URL, params=query(), headers=h)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert [i["name"] for i in items] == ["Centre Deli", "East Bakery", "South Tools", "Edge In"]
    assert [round(i["distance_m"]) for i in items] == [3, 700, 1200, 1990]
    assert all(i["last_visit_at"] is None for i in items)
    assert items[0]["id"] == str(ids["centre"]) and items[0]["h3_cell"] == latlng_to_cell(items[0]["lat"],
                                                                                           items[0]["lng"])
    # Default radius is 2,000 m; an explicit one gives the same, a wider one reaches further.
    same = await client.get(URL, params=query(radius_m=2000), headers=h)
    assert same.json() == r.json()
    wide = await client.get(URL, params=query(radius_m=2010.5), headers=h)
    assert [i["name"] for i in wide.json()["items"]][-1] == "Edge Out"
    far = await client.get(URL, params=query(radius_m=20_000), headers=h)  # a coarser cover, same answer
    assert [i["name"] for i in far.json()["items"]] == ["Centre Deli", "East Bakery", "South Tools", "Edge In",
                                                       "Edge Out", "Far Farm"]
    limited = await client.get(URL, params=query(limit=2), headers=h)
    assert [i["name"] for i in limited.json()["items"]] == ["Centre Deli", "East Bakery"]
    customers = await client.get(URL, params=query(status="customer"), headers=h)
    assert [i["name"] for i in customers.json()["items"]] == ["East Bakery"]


async def test_scope_a_rep_sees_only_their_accounts(client):
    _, admin, rep, other, _ = await seed()
    stranger = await make_user(await make_org(), "admin")
    mine = [i["name"] for i in (await client.get(URL, params=query(), headers=await auth_headers(client, rep)))
            .json()["items"]]
    assert "Their Cafe" not in mine
    theirs = (await client.get(URL, params=query(), headers=await auth_headers(client, other))).json()["items"]
    assert [i["name"] for i in theirs] == ["Their Cafe"]
    everyone = (await client.get(URL, params=query(), headers=await auth_headers(client, admin))).json()["items"]
    assert [i["name"] for i in everyone] == ["Centre Deli", "Their Cafe", "East Bakery", "South Tools", "Edge In"]
    outside = await client.get(URL, params=query(), headers=await auth_headers(client, stranger))
    assert outside.status_code == 200 and outside.json()["items"] == []
    assert (await client.get(URL, params=query())).status_code == 401


async def test_not_visited_days_and_last_visit(client):
    _, _, rep, other, ids = await seed()
    now = utcnow()
    await make_activity(rep, type="visit", account_id=ids["east"], occurred_at=now - timedelta(days=10))
    await make_activity(rep, type="visit", account_id=ids["south"], occurred_at=now - timedelta(days=40))
    await make_activity(rep, type="call", account_id=ids["centre"], occurred_at=now - timedelta(days=1))
    # Another rep's visit counts too: the account was visited.
    await make_activity(other, type="visit", account_id=ids["edge_in"], occurred_at=now - timedelta(days=2))
    h = await auth_headers(client, rep)
    items = (await client.get(URL, params=query(), headers=h)).json()["items"]
    last = {i["name"]: i["last_visit_at"] for i in items}
    assert last["Centre Deli"] is None  # a call is no visit
    assert last["East Bakery"] is not None and last["South Tools"] < last["East Bakery"]
    kept = (await client.get(URL, params=query(not_visited_days=30), headers=h)).json()["items"]
    assert [i["name"] for i in kept] == ["Centre Deli", "South Tools"]
    assert (await client.get(URL, params=query(not_visited_days=60), headers=h)).json()["items"][0]["name"] \
        == "Centre Deli"


async def test_bad_input_answers_422_with_a_code(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    cases = [
        ({"lng": HERE[1]}, "location_required"),
        ({"lat": HERE[0]}, "location_required"),
        ({}, "location_required"),
        (query(lat=91), "location_out_of_range"),
        (query(lng=-180.5), "location_out_of_range"),
        (query(lat="nan"), "location_out_of_range"),
        (query(lat="north"), "validation_error"),
        (query(radius_m=50_001), "radius_too_large"),
        (query(radius_m=0), "invalid_radius"),
        (query(radius_m=-5), "invalid_radius"),
        (query(not_visited_days=0), "invalid_not_visited_days"),
        (query(limit=0), "invalid_limit"),
        (query(status="lost"), "validation_error"),
    ]
    for params, code in cases:
        r = await client.get(URL, params=params, headers=h)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["code"] == code, (params, r.json())
    assert (await client.get(URL, params=query(radius_m=50_000), headers=h)).status_code == 200


async def test_nearby_routes_before_the_account_id_path(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    account_id = await place(rep, "Centre Deli", 3)
    r = await client.get(URL, params=query(), headers=h)
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [str(account_id)]
    assert (await client.get(f"/api/v1/accounts/{account_id}", headers=h)).json()["name"] == "Centre Deli"


def test_the_cover_holds_every_point_within_the_radius():
    rng = random.Random(7)
    for radius_km in (0.05, 0.5, 2.0, 8.0, 25.0, 50.0):
        exact, ranges = nearby.cover(*HERE, radius_km)
        exact_set = set(exact)
        for _ in range(300):
            lat, lng = north_east(radius_km * 1000 * math.sqrt(rng.random()), rng.uniform(0, 360))
            cell = latlng_to_cell(lat, lng)
            assert cell in exact_set or any(lo <= cell <= hi for lo, hi in ranges), (radius_km, cell)
        assert len(exact) <= nearby.MAX_DISK_CELLS and len(ranges) < 400, (radius_km, len(exact), len(ranges))
        assert ranges or radius_km <= 5  # beyond ~5 km the cover is ranges of coarser cells
