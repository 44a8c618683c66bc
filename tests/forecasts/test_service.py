"""Forecasts from real records (made through the services), on both engines, and over HTTP."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import msgspec
import pytest

from server.common.errors import NotFound
from server.db.tx import unit_of_work
from server.forecasts.service import forecasts
from server.pipeline.conversion import convert_lead
from server.pipeline.schemas import ConvertIn, ConvertOpportunity
from tests.builders import auth_headers, make_org, make_user
from tests.pipeline_builders import (
    make_lead,
    make_opportunity,
    make_sales_org,
    scope_of,
)

URL = "/api/v1/forecasts"
JUNE, JULY = date(2030, 6, 30), date(2030, 7, 31)


def person(report, user_id) -> dict:
    return next(p for p in report["people"] if p["user_id"] == str(user_id))


def as_dict(report) -> dict:
    return msgspec.to_builtins(report)


def usd(figures: list[dict]) -> dict:
    return next(f for f in figures if f["currency"] == "USD")


async def deals(org) -> None:
    """rep: USD weighted 1000x50% + 2000x75% + 500x80% = 2400, one won, one lost, one EUR deal;
    mate: 1000x50% = 500 (closing in July)."""
    await make_opportunity(org.rep, stage="proposal", amount=Decimal(1000), expected_close_date=JUNE)
    await make_opportunity(org.rep, stage="negotiation", amount=Decimal(2000), expected_close_date=JUNE)
    await make_opportunity(org.rep, stage="prospecting", probability=80, amount=Decimal("500.01"),
                           expected_close_date=JUNE)
    await make_opportunity(org.rep, stage="closed_won", amount=Decimal(300), expected_close_date=JUNE)
    await make_opportunity(org.rep, stage="closed_lost", close_reason="Price", amount=Decimal(400),
                           expected_close_date=JUNE)
    await make_opportunity(org.rep, stage="proposal", currency="EUR", amount=Decimal(100),
                           expected_close_date=JUNE)
    await make_opportunity(org.mate, stage="proposal", amount=Decimal(1000), expected_close_date=JULY)


async def test_weighted_pipeline_categories_and_roll_up(db):
    org = await make_sales_org()
    await deals(org)
    report = as_dict(await forecasts(await scope_of(org.manager)))
    first = report["people"][0]
    assert (first["user_id"], first["parent_id"], first["depth"]) == (str(org.manager.id), None, 0)
    assert {p["user_id"] for p in report["people"]} == {str(u.id) for u in (org.manager, org.rep, org.mate)}
    rep = person(report, org.rep.id)
    assert [f["currency"] for f in rep["pipeline"]] == ["USD", "EUR"]       # base currency first
    mine = usd(rep["pipeline"])
    assert mine["weighted_pipeline"] == "2400.01" and mine["open_deals"] == 3   # 500.01 x 80% = 400.008
    cats = mine["categories"]
    assert cats["best_case"] == {"count": 1, "amount": "1000.00"}
    assert cats["commit"] == {"count": 2, "amount": "2500.01"}
    assert cats["closed"] == {"count": 1, "amount": "300.00"}
    assert cats["omitted"] == {"count": 1, "amount": "400.00"}
    assert cats["pipeline"] == {"count": 0, "amount": "0.00"}
    assert rep["pipeline"][1]["weighted_pipeline"] == "50.00" and rep["rolled_up"] is None
    boss = person(report, org.manager.id)
    assert boss["pipeline"] == [] and boss["rolled_up"]["people"] == 3
    rolled = usd(boss["rolled_up"]["pipeline"])
    assert rolled["weighted_pipeline"] == "2900.01" and rolled["categories"]["best_case"]["count"] == 2

    june = as_dict(await forecasts(await scope_of(org.manager), period_end=JUNE))
    assert usd(person(june, org.manager.id)["rolled_up"]["pipeline"])["weighted_pipeline"] == "2400.01"
    assert person(june, org.mate.id)["pipeline"] == []


async def convert(rep, stage: str, amount: str) -> None:
    lead = await make_lead(rep, first_name="Pat")
    deal = ConvertOpportunity(name="Deal", amount=Decimal(amount), stage=stage,
                              close_reason="Price" if stage == "closed_lost" else None)
    async with unit_of_work():
        await convert_lead(await scope_of(rep), lead["id"], ConvertIn(opportunity=deal))


async def test_six_wins_of_fifteen_closed_leads_forecast_by_hand(db):
    org = await make_sales_org()
    for _ in range(6):
        await convert(org.rep, "closed_won", "1500")
    for _ in range(4):
        await convert(org.rep, "closed_lost", "999")
    for _ in range(5):
        await make_lead(org.rep, status="disqualified", disqualified_reason="No budget")
    await convert(org.rep, "proposal", "10")          # converted, deal still open: no outcome yet
    for status in ("new", "contacted", "qualified", "new", "new"):
        await make_lead(org.rep, status=status)
    await make_lead(org.mate)
    report = as_dict(await forecasts(await scope_of(org.admin)))
    rep = person(report, org.rep.id)["conversion"]
    assert rep == {"currency": "USD", "open_leads": 5, "basis": "rep", "sample": 15, "wins": 6,
                   "rate": pytest.approx(0.4), "avg_deal": "1500.00", "amount": "3000.00"}
    mate = person(report, org.mate.id)["conversion"]                # no history: the team's
    assert (mate["basis"], mate["sample"], mate["open_leads"], mate["amount"]) == ("team", 15, 1, "600.00")
    loner = person(report, org.loner.id)["conversion"]              # no manager: the org's
    assert (loner["basis"], loner["sample"], loner["amount"]) == ("org", 15, "0.00")
    boss = person(report, org.manager.id)
    assert boss["rolled_up"]["open_leads"] == 6 and boss["rolled_up"]["conversion_amount"] == "3600.00"
    assert boss["conversion"]["basis"] == "org"                      # the manager has no manager


async def test_small_org_has_no_rate(db):
    org = await make_sales_org()
    await convert(org.rep, "closed_won", "100")
    await make_lead(org.rep)
    c = person(as_dict(await forecasts(await scope_of(org.rep))), org.rep.id)["conversion"]
    assert (c["basis"], c["sample"], c["rate"], c["amount"]) == ("org", 1, None, None)


async def test_rep_id_outside_scope_is_not_found(db):
    org = await make_sales_org()
    with pytest.raises(NotFound):
        await forecasts(await scope_of(org.manager), rep_id=org.loner.id)
    with pytest.raises(NotFound):
        await forecasts(await scope_of(org.rep), rep_id=org.mate.id)
    with pytest.raises(NotFound):
        await forecasts(await scope_of(org.admin), rep_id=uuid.uuid4())


# -- HTTP ----------------------------------------------------------------------
async def test_scope_over_http(client):
    org = await make_sales_org()
    await deals(org)
    other = await make_user(await make_org(), "rep")

    h = await auth_headers(client, org.rep)
    r = await client.get(URL, headers=h)
    assert r.status_code == 200, r.text
    assert [p["user_id"] for p in r.json()["people"]] == [str(org.rep.id)]
    for stranger in (org.mate.id, org.loner.id, other.id):
        r = await client.get(URL, headers=h, params={"rep_id": str(stranger)})
        assert r.status_code == 404 and r.json()["code"] == "not_found"

    h = await auth_headers(client, org.manager)
    r = await client.get(URL, headers=h)
    people = r.json()["people"]
    assert people[0]["user_id"] == str(org.manager.id) and people[0]["rolled_up"]["people"] == 3
    assert {p["user_id"] for p in people[1:]} == {str(org.rep.id), str(org.mate.id)}
    assert all(p["parent_id"] == str(org.manager.id) and p["depth"] == 1 for p in people[1:])
    r = await client.get(URL, headers=h, params={"rep_id": str(org.rep.id), "period_end": "2030-06-30"})
    assert r.status_code == 200 and [p["user_id"] for p in r.json()["people"]] == [str(org.rep.id)]
    assert r.json()["period_end"] == "2030-06-30" and r.json()["people"][0]["parent_id"] is None
    assert (await client.get(URL, headers=h, params={"rep_id": str(org.loner.id)})).status_code == 404
    assert (await client.get(URL, headers=h, params={"rep_id": str(other.id)})).status_code == 404

    h = await auth_headers(client, org.admin)
    r = await client.get(URL, headers=h)
    assert {p["user_id"] for p in r.json()["people"]} == {
        str(u.id) for u in (org.admin, org.manager, org.rep, org.mate, org.loner)}
    assert (await client.get(URL, headers=h, params={"rep_id": str(other.id)})).status_code == 404

    for bad in ({"period_end": "30/06/2030"}, {"rep_id": "nope"}):
        r = await client.get(URL, headers=h, params=bad)
        assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert (await client.get(URL)).status_code == 401
