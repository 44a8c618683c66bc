"""Leads over HTTP: round trip, status moves, scope, conversion (links, atomicity, once)."""

import uuid

from server.accounts.tables import Account, Contact
from server.pipeline.tables import Lead, Opportunity
from tests.builders import auth_headers, make_org, make_user
from tests.pipeline_builders import (
    BRONX, BROOKLYN, all_pages, make_lead, make_sales_org, make_territory,
)

URL = "/api/v1/leads"


async def test_lead_round_trip_and_status_moves(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    r = await client.post(URL, headers=h, json={
        "first_name": "Ann", "last_name": "Lee", "company": "Lee Bakery", "source": "door_knock",
        "phone": "415-555-0123", "lat": BROOKLYN[0], "lng": BROOKLYN[1]})
    assert r.status_code == 201, r.text
    lead = r.json()
    assert lead["status"] == "new" and lead["owner_id"] == str(rep.id) and lead["h3_cell"]
    url = f"{URL}/{lead['id']}"
    assert (await client.get(url, headers=h)).json() == lead
    r = await client.patch(url, headers={**h, "If-Match": f'"{lead["version"]}"'},
                           json={"status": "qualified"})
    assert r.status_code == 200 and r.json()["status"] == "qualified"
    stale = await client.patch(url, headers={**h, "If-Match": f'"{lead["version"]}"'},
                               json={"status": "contacted"})
    assert stale.status_code == 412
    r = await client.patch(url, headers=h, json={"status": "disqualified"})
    assert r.status_code == 422 and r.json()["field"] == "disqualified_reason"
    r = await client.patch(url, headers=h, json={"status": "converted"})
    assert r.status_code == 422 and r.json()["code"] == "use_conversion"
    r = await client.patch(url, headers=h, json={"status": "disqualified", "disqualified_reason": "Closed"})
    assert r.status_code == 200 and r.json()["disqualified_reason"] == "Closed"
    r = await client.post(f"{url}/convert", headers=h, json={})
    assert r.status_code == 409 and r.json()["code"] == "lead_disqualified"
    assert (await client.patch(url, headers=h, json={"status": "new"})).json()["status"] == "new"
    listed = await client.get(URL, headers=h, params={"status": "new", "source": "door_knock", "q": "lee"})
    assert [x["id"] for x in listed.json()["items"]] == [lead["id"]]
    assert (await client.delete(url, headers=h)).status_code == 204
    assert (await client.get(url, headers=h)).status_code == 404


async def test_invalid_leads_name_the_field(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    cases = [
        ({"company": "A", "lat": 40.7}, "lng", "incomplete_location"),
        ({"company": "A", "lng": -73.9}, "lat", "incomplete_location"),
        ({"company": "A", "lat": 95, "lng": 0}, "lat", "validation_error"),
        ({"company": "A", "status": "won"}, "status", "validation_error"),
        ({"company": "A", "source": 3}, "source", "validation_error"),
        ({"company": "A", "budget": 5}, None, "validation_error"),
        ({"company": ""}, "last_name", "name_required"),
        ({"company": "A", "status": "converted"}, "status", "use_conversion"),
    ]
    for body, field, code in cases:
        r = await client.post(URL, headers=h, json=body)
        assert r.status_code == 422 and r.json()["code"] == code, (body, r.text)
        if field:
            assert r.json()["field"] == field, (body, r.json())
    assert await Lead.count() == 0


async def test_who_sees_which_lead(client):
    org = await make_sales_org()
    stranger = await make_user(await make_org())
    await make_territory(org.rep, BROOKLYN)
    own = await make_lead(org.rep)
    mates = await make_lead(org.mate)
    pool_here = await make_lead(org.admin, owner_id=None, lat=BROOKLYN[0], lng=BROOKLYN[1])
    pool_there = await make_lead(org.admin, owner_id=None, lat=BRONX[0], lng=BRONX[1])
    expected = [
        (org.rep, {own["id"], pool_here["id"]}),
        (org.manager, {own["id"], mates["id"], pool_here["id"]}),
        (org.admin, {own["id"], mates["id"], pool_here["id"], pool_there["id"]}),
        (stranger, set()),
    ]
    for person, ids in expected:
        h = await auth_headers(client, person)
        assert {x["id"] for x in await all_pages(client, URL, h)} == {str(i) for i in ids}
    h = await auth_headers(client, org.rep)
    for hidden in (mates, pool_there):
        url = f"{URL}/{hidden['id']}"
        assert (await client.get(url, headers=h)).status_code == 404
        assert (await client.patch(url, headers=h, json={"company": "x"})).status_code == 404
        assert (await client.delete(url, headers=h)).status_code == 404
        assert (await client.post(f"{url}/convert", headers=h, json={})).status_code == 404
    h = await auth_headers(client, stranger)
    url = f"{URL}/{own['id']}"
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.patch(url, headers=h, json={"company": "x"})).status_code == 404
    assert (await client.delete(url, headers=h)).status_code == 404
    # A rep keeps leads to themselves; handing one over is a manager's call.
    h = await auth_headers(client, org.rep)
    r = await client.patch(f"{URL}/{own['id']}", headers=h, json={"owner_id": str(org.mate.id)})
    assert r.status_code == 403 and r.json()["code"] == "owner_not_allowed"
    r = await client.post(URL, headers=h, json={"company": "A", "owner_id": str(org.mate.id)})
    assert r.status_code == 403 and r.json()["code"] == "owner_not_allowed"


async def test_conversion_links_everything_once(client):
    org = await make_sales_org()
    await make_territory(org.rep, BROOKLYN)
    lead = await make_lead(org.admin, owner_id=None, first_name="Ann", last_name="Lee",
                           company="Lee Bakery", email="ann@leebakery.com",
                           lat=BROOKLYN[0], lng=BROOKLYN[1])
    h = await auth_headers(client, org.rep)
    ids = {k: str(uuid.uuid4()) for k in ("account", "contact", "opportunity")}
    stale = await client.post(f"{URL}/{lead['id']}/convert", json={},
                              headers={**h, "If-Match": f'"{lead["version"] - 1}"'})
    assert stale.status_code == 412
    body = {"account": {"id": ids["account"]}, "contact": {"id": ids["contact"]},
            "opportunity": {"id": ids["opportunity"], "name": "Ovens", "amount": "18000",
                            "expected_close_date": "2030-03-01"}}
    r = await client.post(f"{URL}/{lead['id']}/convert", json=body,
                          headers={**h, "If-Match": f'"{lead["version"]}"'})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["account"]["id"] == ids["account"] and out["account"]["name"] == "Lee Bakery"
    assert out["contact"]["account_id"] == ids["account"] and out["contact"]["email"] == "ann@leebakery.com"
    opp = out["opportunity"]
    assert opp["lead_id"] == str(lead["id"]) and opp["account_id"] == ids["account"]
    assert opp["owner_id"] == str(org.rep.id) and opp["amount"] == "18000.00" and opp["currency"] == "USD"
    assert out["lead"]["status"] == "converted" and out["lead"]["converted_at"]
    assert [out["lead"][f"{k}_id"] for k in ids] == list(ids.values())
    assert r.headers["etag"] == f'"{out["lead"]["version"]}"'
    again = await client.post(f"{URL}/{lead['id']}/convert", headers=h, json={})
    assert again.status_code == 409 and again.json()["code"] == "lead_converted"
    frozen = await client.patch(f"{URL}/{lead['id']}", headers=h, json={"company": "Renamed"})
    assert frozen.status_code == 409 and frozen.json()["code"] == "lead_converted"
    # The new records are in the rep's scope through the ordinary endpoints.
    for kind, path in (("account", "accounts"), ("contact", "contacts"), ("opportunity", "opportunities")):
        assert (await client.get(f"/api/v1/{path}/{ids[kind]}", headers=h)).status_code == 200


async def test_invalid_conversion_changes_nothing(client):
    org = await make_org()
    rep = await make_user(org)
    lead = await make_lead(rep, first_name="Bo", company="Bo's Bikes")
    h = await auth_headers(client, rep)
    account_id, contact_id = uuid.uuid4(), uuid.uuid4()
    bodies = [
        ({"opportunity": {"name": "Bikes", "amount": "-5"}}, "amount"),
        ({"opportunity": {"name": "Bikes", "amount": "5", "currency": "dollars"}}, "opportunity.currency"),
        ({"opportunity": {"name": "Bikes"}}, "opportunity"),
        ({"account_id": str(uuid.uuid4())}, "account_id"),
    ]
    for extra, field in bodies:
        r = await client.post(f"{URL}/{lead['id']}/convert", headers=h, json={
            "account": None if "account_id" in extra else {"id": str(account_id)},
            "contact": {"id": str(contact_id)}, **extra})
        assert r.status_code == 422 and r.json()["field"] == field, (extra, r.text)
    assert await Account.count() == 0 and await Contact.count() == 0
    assert await Opportunity.count() == 0
    stored = await Lead.select().where(Lead.id == lead["id"]).first()
    assert stored["status"] == "new" and stored["version"] == lead["version"]
    assert stored["account_id"] is None and stored["converted_at"] is None
