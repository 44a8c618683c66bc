"""Opportunities: money checks, stage rules and history, filtered keyset pages."""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from server.common.errors import Invalid
from server.db.tx import unit_of_work
from server.orgs.service import create_org
from server.pipeline import opportunities as opps
from server.pipeline.opportunities import OpportunityFilter
from server.pipeline.schemas import OpportunityPatch
from tests.builders import make_user
from tests.pipeline_builders import make_account, make_opportunity, make_sales_org, scope_of


async def move(person, opp_id, **fields):
    async with unit_of_work():
        return await opps.update_opportunity(await scope_of(person), opp_id, OpportunityPatch(**fields))


async def test_stage_moves_write_history_and_close_dates(db):
    org = await make_sales_org()
    opp = await make_opportunity(org.rep, amount=Decimal("900"))
    assert opp["probability"] == 10 and opp["closed_at"] is None
    proposal = await move(org.rep, opp["id"], stage="proposal", amount=Decimal("1200.50"))
    assert proposal["probability"] == 50
    with pytest.raises(Invalid) as why:
        await move(org.rep, opp["id"], stage="closed_lost")
    assert why.value.field == "close_reason"
    lost = await move(org.rep, opp["id"], stage="closed_lost", close_reason="Went with a rival")
    assert lost["closed_at"] is not None and lost["probability"] == 0
    reopened = await move(org.rep, opp["id"], stage="negotiation", probability=60)
    assert reopened["closed_at"] is None and reopened["close_reason"] is None
    assert reopened["probability"] == 60
    won = await move(org.rep, opp["id"], stage="closed_won")
    assert won["closed_at"] is not None and won["close_reason"] is None
    with pytest.raises(Invalid) as open_reason:
        await move(org.rep, opp["id"], stage="proposal", close_reason="nope")
    assert open_reason.value.code == "not_closed"
    await move(org.rep, opp["id"], name="Renamed")  # not a stage move: no history row
    history = await opps.stage_history(await scope_of(org.rep), opp["id"])
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "prospecting"), ("prospecting", "proposal"), ("proposal", "closed_lost"),
        ("closed_lost", "negotiation"), ("negotiation", "closed_won"),
    ]
    assert [Decimal(h["amount"]) for h in history][:2] == [Decimal("900"), Decimal("1200.50")]
    assert {h["changed_by_id"] for h in history} == {org.rep.id}


async def test_amount_currency_and_account_are_checked(db):
    org = await make_sales_org()
    for amount in ("-0.01", "1000000000000", "1.005", "NaN", "Infinity"):
        with pytest.raises(Invalid) as bad:
            await make_opportunity(org.rep, amount=Decimal(amount))
        assert bad.value.field == "amount", amount
    theirs = await make_account(org.mate)
    with pytest.raises(Invalid) as unknown:
        await make_opportunity(org.rep, account_id=theirs["id"])
    assert unknown.value.code == "unknown_account"
    async with unit_of_work():
        euro_org = await create_org("Euro Sales", base_currency="EUR")
    euro_rep = await make_user(euro_org)
    assert (await make_opportunity(euro_rep))["currency"] == "EUR"
    assert (await make_opportunity(euro_rep, currency="GBP"))["currency"] == "GBP"


async def test_filtered_pages_return_every_row_once(db):
    org = await make_sales_org()
    account = await make_account(org.rep)
    today = date(2030, 1, 15)
    made = []
    for i in range(9):
        stage = ("prospecting", "proposal", "closed_won")[i % 3]
        made.append(await make_opportunity(
            org.rep, account["id"], name=f"Deal {i % 4}", stage=stage,  # repeated names: id breaks ties
            expected_close_date=today + timedelta(days=i),
        ))
    await make_opportunity(org.mate)  # not in the rep's scope
    scope = await scope_of(org.rep)
    open_deals = {o["id"] for o in made if o["stage"] != "closed_won"}
    for sort in ("name", "-updated_at", "-created_at"):
        seen, cursor = [], None
        while True:
            rows, cursor = await opps.list_opportunities(
                scope, OpportunityFilter(is_open=True), sort=sort, limit=2, cursor=cursor)
            seen += [r["id"] for r in rows]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) and set(seen) == open_deals, sort
    window = OpportunityFilter(close_after=today + timedelta(days=2),
                               close_before=today + timedelta(days=5), stages=["proposal"])
    rows, _ = await opps.list_opportunities(scope, window)
    assert {r["id"] for r in rows} == {made[4]["id"]}
