"""Balancing plans through HTTP: made from the data, stored, reviewed as SVG, applied once, refused when stale."""

from __future__ import annotations

import random
import uuid
import xml.etree.ElementTree as ET

import pytest

from server.accounts.tables import Account
from server.audit.tables import AuditEvent
from server.db.tx import unit_of_work
from server.geo.cells import latlng_to_cell
from server.geo.tables import TerritoryPlan
from server.orgs.tables import Region, Team
from server.users.tables import User
from tests.builders import auth_headers, make_org, make_user
from tests.sync.phone import Phone

LAT, LNG = 41.88, -87.63


async def seed_accounts(org_id, n: int = 240, seed: int = 7) -> None:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lat, lng = LAT + rng.uniform(-0.25, 0.25), LNG + rng.uniform(-0.3, 0.3)
        rows.append(Account(id=uuid.uuid4(), org_id=org_id, name=f"Shop {i}", lat=lat, lng=lng,
                            h3_cell=latlng_to_cell(lat, lng, 9), version=1,
                            potential=rng.choice((5_000, 10_000, 20_000)), visit_every_days=rng.choice((14, 30, 60)),
                            visit_minutes=30))
    async with unit_of_work():
        await Account.insert(*rows)


@pytest.fixture
async def org(client):
    org_id = await make_org()
    admin = await make_user(org_id, "admin")
    manager = await make_user(org_id, "manager")
    reps = [await make_user(org_id, "rep", manager=manager) for _ in range(4)]
    region = uuid.uuid4()
    async with unit_of_work():
        await Region.insert(Region(id=region, org_id=org_id, name="Chicagoland"))
        await Team.insert(Team(id=uuid.uuid4(), org_id=org_id, name="North", manager_id=manager.id, region_id=region))
        for i, rep in enumerate(reps):
            await User.update({User.home_lat: LAT + (0.2 if i % 2 else -0.2), User.home_lng: LNG + (0.2 if i < 2 else -0.2)}
                              ).where(User.id == rep.id)
    await seed_accounts(org_id)
    headers = {p.id: await auth_headers(client, p) for p in (admin, manager, *reps)}
    return type("Org", (), {"id": org_id, "admin": admin, "manager": manager, "reps": reps, "region": region,
                            "h": headers})


def body(org, **extra) -> dict:
    return {"name": "Spring", "rep_ids": [str(r.id) for r in org.reps], "region_id": str(org.region), **extra}


async def test_balance_review_apply(client, org):
    admin = org.h[org.admin.id]
    r = await client.post("/api/v1/territories/balance", headers=admin, json=body(org, seed=3))
    assert r.status_code == 201, r.text
    plan = r.json()
    assert r.headers["location"] == f"/api/v1/territories/plans/{plan['id']}"
    assert plan["status"] == "draft" and len(plan["territories"]) == 4
    report = plan["report"]
    assert report["all_contiguous"] and report["max_workload_deviation"] <= 0.10, report
    assert {t["rep_id"] for t in plan["territories"]} == {str(r.id) for r in org.reps}
    assert sum(t["accounts"] for t in plan["territories"]) == 240
    # Deterministic for the same input and seed.
    again = (await client.post("/api/v1/territories/balance", headers=admin, json=body(org, seed=3))).json()
    assert [t["cells"] for t in again["territories"]] == [t["cells"] for t in plan["territories"]]
    # Reviewed as a map.
    svg = await client.get(plan["svg"], headers=admin)
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert ET.fromstring(svg.text).tag.endswith("svg")
    assert (await client.get(f"/api/v1/territories/plans/{plan['id']}", headers=admin)).json()["id"] == plan["id"]
    # Applied once, by the manager of the region.
    phone = await Phone(client, org.reps[0]).login()
    await phone.pull()
    assert phone.ids("accounts") == set()
    r = await client.post(f"/api/v1/territories/plans/{plan['id']}/apply", headers=org.h[org.manager.id])
    assert r.status_code == 200, r.text
    applied = r.json()
    assert len(applied["created"]) == 4 and applied["placements_opened"] == 240
    territories = (await client.get("/api/v1/territories", headers=admin)).json()["items"]
    assert sorted(t["accounts"] for t in territories) == sorted(t["accounts"] for t in plan["territories"])
    checks = (await client.get("/api/v1/territories/checks", headers=admin)).json()
    assert checks["overlaps"] == [] and checks["accounts_outside"]["count"] == 0
    await phone.pull()
    mine = next(t for t in plan["territories"] if t["rep_id"] == str(org.reps[0].id))
    assert len(phone.ids("accounts")) == mine["accounts"]
    assert await AuditEvent.exists().where((AuditEvent.action == "territory_plan.applied")
                                           & (AuditEvent.entity_id == uuid.UUID(plan["id"])))
    r = await client.post(f"/api/v1/territories/plans/{plan['id']}/apply", headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "plan_not_draft"
    # The other draft was made before the change: stale, and applying it changes nothing.
    r = await client.post(f"/api/v1/territories/plans/{again['id']}/apply", headers=admin)
    assert r.status_code == 409 and r.json()["code"] == "plan_stale"
    assert len((await client.get("/api/v1/territories", headers=admin)).json()["items"]) == 4


async def test_rebalance_keeps_territories_and_respects_the_disruption_budget(client, org):
    admin = org.h[org.admin.id]
    first = (await client.post("/api/v1/territories/balance", headers=admin, json=body(org, seed=1))).json()
    assert (await client.post(f"/api/v1/territories/plans/{first['id']}/apply", headers=admin)).status_code == 200
    before = {t["id"] for t in (await client.get("/api/v1/territories", headers=admin)).json()["items"]}
    await seed_accounts(org.id, n=40, seed=99)  # new business appears
    r = await client.post("/api/v1/territories/balance", headers=admin,
                          json=body(org, seed=2, disruption_budget=0.2, name="Summer"))
    assert r.status_code == 201, r.text
    second = r.json()
    assert {t["label"] for t in second["territories"]} == before
    assert second["report"]["accounts_moved_share"] <= 0.2
    r = await client.post(f"/api/v1/territories/plans/{second['id']}/apply", headers=admin)
    assert r.status_code == 200 and r.json()["created"] == [] and sorted(r.json()["updated"]) == sorted(before)
    after = (await client.get("/api/v1/territories", headers=admin)).json()["items"]
    assert {t["id"] for t in after} == before and sum(t["accounts"] for t in after) == 280


async def test_unmeetable_tolerances_are_reported_not_refused(client, org):
    admin = org.h[org.admin.id]
    lump = uuid.uuid4()
    async with unit_of_work():
        await Account.insert(Account(id=lump, org_id=org.id, name="Hospital", lat=LAT, lng=LNG,
                                     h3_cell=latlng_to_cell(LAT, LNG, 9), version=1, potential=5_000_000,
                                     visit_every_days=1, visit_minutes=600))
    r = await client.post("/api/v1/territories/balance", headers=admin, json=body(org))
    assert r.status_code == 201, r.text
    report = r.json()["report"]
    assert report["met"] is False and report["problems"]
    assert any(lump_["id"] == str(lump) for lump_ in report["lumps"])


@pytest.mark.parametrize("extra, status, code", [
    ({"territories": 100_000, "rep_ids": []}, 422, "validation_error"),
    ({"rep_ids": [], "territories": None}, 422, "territories_required"),
    ({"territories": 3}, 422, "reps_mismatch"),
    ({"rep_ids": [], "territories": 2, "region": {"cells": ["nope"]}}, 422, "invalid_cells"),
    ({"locked_cells": [latlng_to_cell(LAT, LNG, 7)]}, 422, "invalid_lock"),
    ({"workload_tolerance": 0}, 422, "validation_error"),
    ({"region": {"cells": [latlng_to_cell(LAT, LNG, 7)], "all_accounts": True}}, 422, "area_required"),
    ({"rep_ids": [], "territories": 400, "region": {"cells": [latlng_to_cell(LAT, LNG, 7)]}}, 422,
     "too_many_territories"),
])
async def test_bad_balance_requests(client, org, extra, status, code):
    r = await client.post("/api/v1/territories/balance", headers=org.h[org.admin.id], json=body(org, **extra))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code, r.json()
    assert await TerritoryPlan.count() == 0


async def test_planning_rights(client, org):
    r = await client.post("/api/v1/territories/balance", headers=org.h[org.reps[0].id], json=body(org))
    assert r.status_code == 403
    r = await client.post("/api/v1/territories/balance", headers=org.h[org.manager.id],
                          json=body(org, region_id=None))
    assert r.status_code == 403 and r.json()["code"] == "not_your_region"
    plan = (await client.post("/api/v1/territories/balance", headers=org.h[org.admin.id], json=body(org))).json()
    stranger = await auth_headers(client, await make_user(await make_org(), "admin"))
    assert (await client.get(f"/api/v1/territories/plans/{plan['id']}", headers=stranger)).status_code == 404
    assert (await client.post(f"/api/v1/territories/plans/{plan['id']}/apply", headers=stranger)).status_code == 404
    assert (await client.get(f"/api/v1/territories/plans/{plan['id']}", headers=org.h[org.reps[0].id])).status_code == 404
    outsider = await make_user(org.id, "rep")
    r = await client.post("/api/v1/territories/balance", headers=org.h[org.manager.id],
                          json=body(org, rep_ids=[str(outsider.id), *[str(r.id) for r in org.reps[1:]]]))
    assert r.status_code == 403 and r.json()["code"] == "not_your_team"
