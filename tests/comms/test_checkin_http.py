"""Verified check-ins through HTTP and sync pushes, on both lanes.

A visit is compared with the account's location as it stood at the visit;
a rep moving an account is recorded and flagged for the manager; device
clocks ahead are clamped (offset kept) or refused; impossible coordinates are
refused with ``invalid_location`` and nothing else of a batch is lost.
"""

import uuid
from datetime import datetime, timedelta

import pytest

from server.common.time import utcnow
from server.comms.tables import Activity
from server.orgs.tables import Organisation
from tests.builders import auth_headers, make_org, make_user
from tests.pipeline_builders import BROOKLYN, make_account, make_sales_org
from tests.sync.phone import Phone, statuses

M_PER_DEG_LAT = 111_195.0


def north(metres: float, of: tuple[float, float] = BROOKLYN) -> dict:
    return {"lat": of[0] + metres / M_PER_DEG_LAT, "lng": of[1]}


def visit(account_id, *, ago: timedelta = timedelta(minutes=5), **fields) -> dict:
    return {"type": "visit", "outcome": "met", "account_id": str(account_id),
            "occurred_at": (utcnow() - ago).isoformat(), **fields}


async def post(client, headers, body) -> dict:
    r = await client.post("/api/v1/activities", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_visits_are_verified_against_the_account(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    rep = await auth_headers(client, org.rep)

    at = await post(client, rep, visit(account, **north(20), accuracy_m=8))
    assert at["verification"] == "verified" and 15 < at["distance_m"] < 25
    away = await post(client, rep, visit(account, **north(300), accuracy_m=8))
    assert away["verification"] == "out_of_range" and 295 < away["distance_m"] < 305
    mock = await post(client, rep, visit(account, **north(0), accuracy_m=3, mock_location=True))
    assert mock["verification"] == "unverifiable"
    no_fix = await post(client, rep, visit(account))
    assert (no_fix["verification"], no_fix["distance_m"]) == ("unverifiable", None)
    # A poor fix widens the radius (100 m + 180 m), but never beyond the cap (100 m + 200 m).
    widened = await post(client, rep, visit(account, **north(250), accuracy_m=180))
    assert widened["verification"] == "verified"
    capped = await post(client, rep, visit(account, **north(350), accuracy_m=5000))
    assert capped["verification"] == "out_of_range"
    # A call the rep only reports is logged, unverified (the provider's confirmation verifies calls).
    reported = await post(client, rep, {"type": "call", "outcome": "connected", "account_id": str(account),
                                        "occurred_at": utcnow().isoformat(), "duration_s": 60})
    assert reported["verification"] is None
    # The org's radius applies.
    await Organisation.update({Organisation.checkin_radius_m: 400}).where(Organisation.id == org.org_id)
    wide = await post(client, rep, visit(account, **north(300), accuracy_m=8))
    assert wide["verification"] == "verified"


async def test_an_account_without_a_location_cannot_verify(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep))["id"])
    body = await post(client, await auth_headers(client, org.rep), visit(account, **north(0), accuracy_m=5))
    assert body["verification"] == "unverifiable"


async def test_the_location_as_it_stood_at_the_visit_decides(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    rep, manager = await auth_headers(client, org.rep), await auth_headers(client, org.manager)
    where_i_stood = north(300)
    before = await post(client, rep, visit(account, ago=timedelta(hours=2), **where_i_stood, accuracy_m=5))
    assert before["verification"] == "out_of_range"

    # The rep moves the account onto the spot they stood on.
    r = await client.patch(f"/api/v1/accounts/{account}", json=where_i_stood, headers=rep)
    assert r.status_code == 200, r.text
    # A visit logged (offline) for a time before the move is still judged by the old location ...
    late_upload = await post(client, rep, visit(account, ago=timedelta(hours=1), **where_i_stood, accuracy_m=5))
    assert late_upload["verification"] == "out_of_range" and late_upload["distance_m"] > 290
    # ... the earlier visit's stored verdict is unchanged, and a visit after the move uses the new one.
    got = await client.get(f"/api/v1/activities/{before['id']}", headers=rep)
    assert got.json()["verification"] == "out_of_range"
    after = await post(client, rep, visit(account, ago=timedelta(seconds=0), **where_i_stood, accuracy_m=5))
    assert after["verification"] == "verified"

    # The move is recorded and flagged; the manager sees it, the rep may not look.
    r = await client.get("/api/v1/accounts/location-changes", params={"flagged": "true"}, headers=manager)
    assert r.status_code == 200, r.text
    [change] = r.json()["items"]
    assert change["account_id"] == account and change["changed_by_id"] == str(org.rep.id)
    assert change["flagged"] is True and 295 < change["moved_m"] < 305
    assert (change["previous_lat"], change["previous_lng"]) == pytest.approx(BROOKLYN)
    r = await client.get("/api/v1/accounts/location-changes", headers=rep)
    assert r.status_code == 403 and r.json()["code"] == "not_manager"
    # A manager's own correction is kept, not flagged.
    r = await client.patch(f"/api/v1/accounts/{account}", json=north(5), headers=manager)
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/accounts/location-changes", headers=manager)
    assert [c["flagged"] for c in r.json()["items"]] == [False, True]
    admin = await auth_headers(client, org.admin)
    r = await client.get("/api/v1/accounts/location-changes", params={"flagged": "true"}, headers=admin)
    assert [c["id"] for c in r.json()["items"]] == [change["id"]]
    # Another org's admin sees nothing of it.
    stranger = await make_user(await make_org(), "admin")
    r = await client.get("/api/v1/accounts/location-changes", headers=await auth_headers(client, stranger))
    assert r.status_code == 200 and r.json()["items"] == []


async def test_a_manager_sees_only_their_teams_moves(client):
    org = await make_sales_org()
    account = str((await make_account(org.loner, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    loner = await auth_headers(client, org.loner)
    r = await client.patch(f"/api/v1/accounts/{account}", json=north(400), headers=loner)
    assert r.status_code == 200, r.text
    manager = await auth_headers(client, org.manager)
    r = await client.get("/api/v1/accounts/location-changes", params={"flagged": "true"}, headers=manager)
    assert r.json()["items"] == []


async def test_dwell_time_from_check_in_to_check_out(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    rep = await auth_headers(client, org.rep)
    checked_in = utcnow() - timedelta(hours=1)
    body = visit(account, **north(10), accuracy_m=5)
    body["occurred_at"] = checked_in.isoformat()
    body["ended_at"] = (checked_in + timedelta(minutes=25)).isoformat()
    row = await post(client, rep, body)
    assert row["duration_s"] == 25 * 60
    # Checking out later (an amendment) recomputes the dwell time.
    r = await client.patch(f"/api/v1/activities/{row['id']}", headers=rep,
                           json={"ended_at": (checked_in + timedelta(minutes=40)).isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["duration_s"] == 40 * 60


async def test_a_device_clock_ahead_is_clamped_with_its_offset_or_refused(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    rep = await auth_headers(client, org.rep)
    ahead = utcnow() + timedelta(hours=2)
    body = visit(account, **north(10), accuracy_m=5, id=str(uuid.uuid4()))
    body["occurred_at"] = ahead.isoformat()
    body["ended_at"] = (ahead + timedelta(minutes=10)).isoformat()
    row = await post(client, rep, body)
    occurred, received = datetime.fromisoformat(row["occurred_at"]), datetime.fromisoformat(row["received_at"])
    assert occurred == received and row["duration_s"] == 600
    assert datetime.fromisoformat(row["ended_at"]) == received + timedelta(minutes=10)
    stored = await Activity.select(Activity.clock_offset_s).where(Activity.id == row["id"]).first()
    assert 7190 < stored["clock_offset_s"] < 7210
    # Re-sending it (the answer was lost) is a replay, although "now" has moved on.
    again = await client.post("/api/v1/activities", json=body, headers=rep)
    assert again.status_code == 200 and again.json()["id"] == row["id"]
    # A little drift is kept as given.
    slight = await post(client, rep, visit(account, ago=-timedelta(minutes=5)))
    assert datetime.fromisoformat(slight["occurred_at"]) > utcnow()
    # More than a day ahead: no telling when it happened.
    r = await client.post("/api/v1/activities", headers=rep,
                          json=visit(account, ago=-timedelta(hours=30)))
    assert r.status_code == 422
    problem = r.json()
    assert (problem["code"], problem["field"]) == ("occurred_at_in_future", "occurred_at")
    assert 30 * 3600 - 60 < problem["clock_offset_s"] < 30 * 3600 + 60


@pytest.mark.parametrize("where", [{"lat": 91.0, "lng": 0.0}, {"lat": 0.0, "lng": -180.5},
                                   {"lat": -90.01, "lng": 10.0}])
async def test_impossible_coordinates_are_refused(client, where):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    r = await client.post("/api/v1/activities", json=visit(account, **where),
                          headers=await auth_headers(client, org.rep))
    assert r.status_code == 422 and r.json()["code"] == "invalid_location"


async def test_an_infinite_coordinate_is_refused(client):
    """JSON has no NaN; an overflowing number is refused by the decoder already (the service's finite check
    covers other callers)."""
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    raw = (f'{{"type": "visit", "account_id": "{account}", "occurred_at": "{utcnow().isoformat()}", '
           f'"lat": 1e999, "lng": 0}}')
    headers = {**await auth_headers(client, org.rep), "Content-Type": "application/json"}
    r = await client.post("/api/v1/activities", content=raw, headers=headers)
    assert r.status_code in (400, 422)
    assert await Activity.count() == 0


async def test_sync_pushes_store_the_verification_and_lose_nothing(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    phone = await Phone(client, org.rep).login()
    now_ms = int(utcnow().timestamp() * 1000)
    ids = [uuid.uuid4() for _ in range(6)]

    def fields(**extra):
        return {"type": "visit", "direction": "out", "occurred_at": now_ms - 60_000, "account_id": account,
                "accuracy_m": 6, **extra}

    batch = [
        phone.mutation("activities", "insert", ids[0], fields(**north(15))),
        phone.mutation("activities", "insert", ids[1], fields(lat=95.0, lng=-73.9)),
        phone.mutation("activities", "insert", ids[2], fields(**north(300))),
        phone.mutation("activities", "insert", ids[3], fields(**north(0), occurred_at=now_ms + 30 * 3600_000)),
        phone.mutation("activities", "insert", ids[4], fields(**north(0), occurred_at=now_ms + 3600_000)),
        phone.mutation("activities", "insert", ids[5], fields(**north(0), mock_location=True)),
    ]
    out = await phone.push(batch)
    assert statuses(out) == ["applied", "rejected", "applied", "rejected", "applied", "applied"]
    errors = [out["results"][i]["error"] for i in (1, 3)]
    assert [(e["code"], e["field"]) for e in errors] == [("invalid_location", "lat"),
                                                         ("occurred_at_in_future", "occurred_at")]
    rows = {r["id"]: r for r in await Activity.select().where(Activity.id.is_in(ids))}
    assert set(rows) == {ids[0], ids[2], ids[4], ids[5]}
    assert [rows[i]["verification"] for i in (ids[0], ids[2], ids[4], ids[5])] == [
        "verified", "out_of_range", "verified", "unverifiable"]
    assert 295 < rows[ids[2]]["distance_m"] < 305
    assert 3590 < rows[ids[4]]["clock_offset_s"] < 3610
    # The verification travels down to the phone with the record (a server-owned column).
    assert out["results"][2]["record"]["verification"] == "out_of_range"
    await phone.pull()
    assert phone.tables["activities"][str(ids[0])]["verification"] == "verified"


async def test_a_pushed_visit_uses_the_location_before_a_later_move(client):
    org = await make_sales_org()
    account = str((await make_account(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1]))["id"])
    rep = await auth_headers(client, org.rep)
    r = await client.patch(f"/api/v1/accounts/{account}", json=north(300), headers=rep)
    assert r.status_code == 200, r.text
    phone = await Phone(client, org.rep).login()
    hour_ago = int((utcnow() - timedelta(hours=1)).timestamp() * 1000)
    vid = uuid.uuid4()
    out = await phone.push([phone.mutation("activities", "insert", vid, {
        "type": "visit", "occurred_at": hour_ago, "account_id": account, "accuracy_m": 5, **north(300)})])
    assert statuses(out) == ["applied"]
    assert out["results"][0]["record"]["verification"] == "out_of_range"
