"""Lead conversion: the right records with the right links, all or nothing, once."""

import asyncio
import uuid
from decimal import Decimal

import pytest

from server.accounts.tables import Account, Contact
from server.common.errors import Conflict, Invalid
from server.db.tx import unit_of_work
from server.pipeline import leads
from server.pipeline.conversion import convert_lead
from server.pipeline.schemas import (
    ConvertAccount, ConvertContact, ConvertIn, ConvertOpportunity, LeadPatch,
)
from server.pipeline.tables import Lead, Opportunity, StageChange
from tests.pipeline_builders import (
    BROOKLYN, make_account, make_lead, make_opportunity, make_sales_org, scope_of,
)


async def convert(person, lead_id, body: ConvertIn):
    async with unit_of_work():
        return await convert_lead(await scope_of(person), lead_id, body)


def deal(**fields) -> ConvertOpportunity:
    return ConvertOpportunity(**{"name": "First order", "amount": Decimal("4200.00"), **fields})


async def test_conversion_creates_linked_records(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep, first_name="Ann", last_name="Lee", company="Lee Bakery",
                           title="Owner", email="ann@leebakery.com", phone="(415) 555-0123",
                           lat=BROOKLYN[0], lng=BROOKLYN[1], city="Brooklyn")
    ids = [uuid.uuid4() for _ in range(3)]
    done = await convert(org.rep, lead["id"], ConvertIn(
        account=ConvertAccount(id=ids[0], industry="Food"), contact=ConvertContact(id=ids[1]),
        opportunity=deal(id=ids[2], stage="proposal"),
    ))
    assert [done.account["id"], done.contact["id"], done.opportunity["id"]] == ids
    account = await Account.select().where(Account.id == ids[0]).first()
    assert account["name"] == "Lee Bakery" and account["owner_id"] == org.rep.id
    assert account["city"] == "Brooklyn" and account["h3_cell"] == lead["h3_cell"]
    contact = await Contact.select().where(Contact.id == ids[1]).first()
    assert contact["account_id"] == ids[0] and contact["last_name"] == "Lee"
    assert contact["email"] == "ann@leebakery.com" and contact["phone_e164"] == "+14155550123"
    opp = await Opportunity.select().where(Opportunity.id == ids[2]).first()
    assert opp["account_id"] == ids[0] and opp["lead_id"] == lead["id"]
    assert opp["owner_id"] == org.rep.id and opp["probability"] == 50
    stored = await Lead.select().where(Lead.id == lead["id"]).first()
    assert stored["status"] == "converted" and stored["converted_at"] is not None
    assert (stored["account_id"], stored["contact_id"], stored["opportunity_id"]) == tuple(ids)
    assert stored["version"] > lead["version"]


async def test_failed_conversion_leaves_nothing_behind(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep, first_name="Bo", company="Bo's Bikes")
    taken = await make_opportunity(org.rep)
    accounts_before, history_before = await Account.count(), await StageChange.count()
    ids = [uuid.uuid4(), uuid.uuid4()]
    # The account and the contact are written before the deal is refused...
    with pytest.raises(Invalid) as bad_amount:
        await convert(org.rep, lead["id"], ConvertIn(
            account=ConvertAccount(id=ids[0]), contact=ConvertContact(id=ids[1]),
            opportunity=deal(amount=Decimal("-1")),
        ))
    assert bad_amount.value.field == "amount"
    # ...and an id clash on the deal fails after every insert but the deal's.
    with pytest.raises(Conflict):
        await convert(org.rep, lead["id"], ConvertIn(
            account=ConvertAccount(id=ids[0]), contact=ConvertContact(id=ids[1]),
            opportunity=deal(id=taken["id"]),
        ))
    assert await Account.count() == accounts_before
    assert not await Account.exists().where(Account.id == ids[0])
    assert not await Contact.exists().where(Contact.id == ids[1])
    assert not await Opportunity.exists().where(Opportunity.lead_id == lead["id"])
    assert await StageChange.count() == history_before
    stored = await Lead.select().where(Lead.id == lead["id"]).first()
    assert stored["status"] == "new" and stored["converted_at"] is None
    assert stored["version"] == lead["version"] and stored["account_id"] is None


async def test_converting_twice_or_editing_afterwards_conflicts(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep, last_name="Diaz")
    await convert(org.rep, lead["id"], ConvertIn())
    with pytest.raises(Conflict) as twice:
        await convert(org.rep, lead["id"], ConvertIn())
    assert twice.value.code == "lead_converted"
    with pytest.raises(Conflict) as frozen:
        async with unit_of_work():
            await leads.update_lead(await scope_of(org.rep), lead["id"], LeadPatch(company="X"))
    assert frozen.value.code == "lead_converted"
    with pytest.raises(Conflict):
        async with unit_of_work():
            await leads.delete_lead(await scope_of(org.rep), lead["id"])


async def test_link_an_existing_account_in_scope_only(db):
    org = await make_sales_org()
    mine = await make_account(org.rep, name="Known Customer")
    theirs = await make_account(org.mate)
    lead = await make_lead(org.rep, company="Company only")
    with pytest.raises(Invalid) as unknown:
        await convert(org.rep, lead["id"], ConvertIn(account_id=theirs["id"]))
    assert unknown.value.code == "unknown_account" and unknown.value.field == "account_id"
    with pytest.raises(Invalid) as both:
        await convert(org.rep, lead["id"], ConvertIn(account_id=mine["id"], account=ConvertAccount()))
    assert both.value.field == "account"
    done = await convert(org.rep, lead["id"], ConvertIn(account_id=mine["id"]))
    # No person on the lead: no contact unless asked for, and no deal unless described.
    assert done.account["id"] == mine["id"] and done.contact is None and done.opportunity is None
    assert done.lead["account_id"] == mine["id"] and done.lead["contact_id"] is None


async def test_unowned_lead_goes_to_whoever_converts_it(db):
    org = await make_sales_org()
    lead = await make_lead(org.admin, owner_id=None, last_name="Pool", company="", phone="415 555 0199")
    done = await convert(org.admin, lead["id"], ConvertIn(contact=None, opportunity=deal()))
    assert done.lead["owner_id"] == org.admin.id == done.opportunity["owner_id"]
    # Without a contact the person's phone lands on the account.
    assert done.contact is None and done.account["phone_e164"] == "+14155550199"
    assert done.account["name"] == "Pool"


async def test_concurrent_conversions_convert_once(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep, last_name="Race")
    results = await asyncio.gather(
        *(convert(org.rep, lead["id"], ConvertIn(opportunity=deal())) for _ in range(2)),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "Conversion"]
    assert await Opportunity.count().where(Opportunity.lead_id == lead["id"]) == 1
    assert await Account.count() == 1
