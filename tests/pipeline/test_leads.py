"""Leads: status moves, placement in a territory, and who sees which lead."""

import pytest

from server.common.errors import Forbidden, Invalid, NotFound
from server.db.tx import unit_of_work
from server.pipeline import leads
from server.pipeline.leads import LeadFilter
from server.pipeline.schemas import LeadPatch
from tests.pipeline_builders import (
    BRONX, BROOKLYN, make_lead, make_sales_org, make_territory, scope_of,
)


async def patch(person, lead_id, **fields):
    async with unit_of_work():
        return await leads.update_lead(await scope_of(person), lead_id, LeadPatch(**fields))


async def visible_ids(person, **filters) -> set:
    rows, _ = await leads.list_leads(await scope_of(person), LeadFilter(**filters), limit=200)
    return {r["id"] for r in rows}


async def test_status_moves_follow_the_funnel(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep)
    assert lead["status"] == "new" and lead["owner_id"] == org.rep.id
    assert (await patch(org.rep, lead["id"], status="contacted"))["status"] == "contacted"
    assert (await patch(org.rep, lead["id"], status="qualified"))["status"] == "qualified"
    with pytest.raises(Invalid) as back:
        await patch(org.rep, lead["id"], status="new")
    assert back.value.code == "invalid_transition" and back.value.field == "status"
    with pytest.raises(Invalid) as convert:
        await patch(org.rep, lead["id"], status="converted")
    assert convert.value.code == "use_conversion"
    with pytest.raises(Invalid) as no_reason:
        await patch(org.rep, lead["id"], status="disqualified")
    assert no_reason.value.field == "disqualified_reason"
    out = await patch(org.rep, lead["id"], status="disqualified", disqualified_reason="No budget")
    assert out["status"] == "disqualified" and out["disqualified_reason"] == "No budget"
    with pytest.raises(Invalid):
        await patch(org.rep, lead["id"], status="qualified")  # reopen goes back to new
    reopened = await patch(org.rep, lead["id"], status="new")
    assert reopened["status"] == "new" and reopened["disqualified_reason"] is None


async def test_new_lead_cannot_start_converted_or_disqualified_without_reason(db):
    org = await make_sales_org()
    with pytest.raises(Invalid) as converted:
        await make_lead(org.rep, status="converted")
    assert converted.value.code == "use_conversion"
    with pytest.raises(Invalid) as reason:
        await make_lead(org.rep, status="disqualified")
    assert reason.value.field == "disqualified_reason"
    with pytest.raises(Invalid) as name:
        await make_lead(org.rep, company="  ")
    assert name.value.code == "name_required"


async def test_location_places_the_lead_in_a_territory(db):
    org = await make_sales_org()
    patch_id = await make_territory(org.rep, BROOKLYN)
    lead = await make_lead(org.rep, lat=BROOKLYN[0], lng=BROOKLYN[1])
    assert lead["h3_cell"] and lead["territory_id"] == patch_id
    moved = await patch(org.rep, lead["id"], lat=BRONX[0], lng=BRONX[1])
    assert moved["h3_cell"] != lead["h3_cell"] and moved["territory_id"] is None
    cleared = await patch(org.rep, lead["id"], lat=None, lng=None)
    assert cleared["h3_cell"] is None and cleared["lat"] is None
    with pytest.raises(Invalid) as half:
        await patch(org.rep, lead["id"], lat=40.7)
    assert half.value.field == "lng" and half.value.code == "incomplete_location"


async def test_scope_rep_manager_admin(db):
    org = await make_sales_org()
    await make_territory(org.rep, BROOKLYN)
    own = await make_lead(org.rep)
    mates = await make_lead(org.mate)
    loners = await make_lead(org.loner)
    pool_here = await make_lead(org.admin, owner_id=None, lat=BROOKLYN[0], lng=BROOKLYN[1])
    pool_elsewhere = await make_lead(org.admin, owner_id=None, lat=BRONX[0], lng=BRONX[1])
    ids = {r["id"]: name for name, r in [("own", own), ("mate", mates), ("loner", loners),
                                          ("here", pool_here), ("elsewhere", pool_elsewhere)]}

    def names(found):
        return {ids[i] for i in found if i in ids}

    assert names(await visible_ids(org.rep)) == {"own", "here"}
    assert names(await visible_ids(org.rep, unowned=True)) == {"here"}
    assert names(await visible_ids(org.manager)) == {"own", "mate", "here"}
    assert names(await visible_ids(org.admin)) == set(ids.values())
    assert names(await visible_ids(org.manager, owner_id=org.mate.id)) == {"mate"}
    rep = await scope_of(org.rep)
    assert (await leads.get_lead(rep, pool_here["id"]))["id"] == pool_here["id"]
    for hidden in (mates, loners, pool_elsewhere):
        with pytest.raises(NotFound):
            await leads.get_lead(rep, hidden["id"])


async def test_a_rep_cannot_hand_a_lead_to_someone_else(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep)
    with pytest.raises(Forbidden) as refused:
        await patch(org.rep, lead["id"], owner_id=org.mate.id)
    assert refused.value.code == "owner_not_allowed"
    # Their manager can.
    assert (await patch(org.manager, lead["id"], owner_id=org.mate.id))["owner_id"] == org.mate.id


async def test_deleted_leads_are_gone(db):
    org = await make_sales_org()
    lead = await make_lead(org.rep)
    async with unit_of_work():
        await leads.delete_lead(await scope_of(org.rep), lead["id"])
    assert lead["id"] not in await visible_ids(org.rep)
    with pytest.raises(NotFound):
        await patch(org.rep, lead["id"], status="contacted")
