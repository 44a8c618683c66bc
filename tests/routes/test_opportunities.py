"""Opportunities over HTTP: money as strings, stage history, scope, validation, filters."""

from datetime import date

from server.pipeline.tables import Opportunity
from tests.builders import auth_headers, make_org, make_user
from tests.pipeline_builders import all_pages, make_account, make_opportunity, make_sales_org

URL = "/api/v1/opportunities"


async def test_opportunity_round_trip_with_stage_history(client):
    org = await make_org()
    rep = await make_user(org)
    account = await make_account(rep)
    h = await auth_headers(client, rep)
    r = await client.post(URL, headers=h, json={
        "account_id": str(account["id"]), "name": "Fleet renewal", "amount": 1250.5,
        "expected_close_date": "2030-06-30"})
    assert r.status_code == 201, r.text
    opp = r.json()
    assert opp["amount"] == "1250.50" and opp["currency"] == "USD" and opp["probability"] == 10
    assert opp["stage"] == "prospecting" and opp["expected_close_date"] == "2030-06-30"
    url = f"{URL}/{opp['id']}"
    got = await client.get(url, headers=h)
    assert got.json() == opp and got.headers["etag"] == f'"{opp["version"]}"'
    r = await client.patch(url, headers={**h, "If-Match": got.headers["etag"]},
                           json={"stage": "negotiation", "amount": "1400"})
    assert r.status_code == 200 and r.json()["probability"] == 75 and r.json()["amount"] == "1400.00"
    stale = await client.patch(url, headers={**h, "If-Match": got.headers["etag"]},
                               json={"stage": "closed_won"})
    assert stale.status_code == 412
    r = await client.patch(url, headers=h, json={"stage": "closed_lost"})
    assert r.status_code == 422 and r.json()["field"] == "close_reason"
    r = await client.patch(url, headers=h, json={"stage": "closed_lost", "close_reason": "Budget cut"})
    assert r.status_code == 200 and r.json()["closed_at"] and r.json()["close_reason"] == "Budget cut"
    history = (await client.get(f"{url}/stage-history", headers=h)).json()
    assert [(x["from_stage"], x["to_stage"], x["amount"]) for x in history] == [
        (None, "prospecting", "1250.50"), ("prospecting", "negotiation", "1400.00"),
        ("negotiation", "closed_lost", "1400.00")]
    assert {x["changed_by_id"] for x in history} == {str(rep.id)}
    assert (await client.delete(url, headers=h)).status_code == 204
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.get(f"{url}/stage-history", headers=h)).status_code == 404


async def test_deals_outside_scope_are_not_found(client):
    org = await make_sales_org()
    stranger = await make_user(await make_org())
    own = await make_opportunity(org.rep)
    mates = await make_opportunity(org.mate)
    for person, hidden in ((org.rep, mates), (stranger, own)):
        h = await auth_headers(client, person)
        url = f"{URL}/{hidden['id']}"
        assert (await client.get(url, headers=h)).status_code == 404
        assert (await client.patch(url, headers=h, json={"name": "x"})).status_code == 404
        assert (await client.delete(url, headers=h)).status_code == 404
        assert (await client.get(f"{url}/stage-history", headers=h)).status_code == 404
    h = await auth_headers(client, org.manager)
    assert {x["id"] for x in await all_pages(client, URL, h)} == {str(own["id"]), str(mates["id"])}
    h = await auth_headers(client, org.rep)
    assert [x["id"] for x in await all_pages(client, URL, h)] == [str(own["id"])]
    r = await client.patch(f"{URL}/{own['id']}", headers=h, json={"owner_id": str(org.mate.id)})
    assert r.status_code == 403 and r.json()["code"] == "owner_not_allowed"


async def test_invalid_deals_name_the_field(client):
    org = await make_org()
    rep, stranger = await make_user(org), await make_user(await make_org())
    account, foreign = await make_account(rep), await make_account(stranger)
    h = await auth_headers(client, rep)
    base = {"account_id": str(account["id"]), "name": "Deal", "amount": "10"}
    cases = [
        ({"amount": "-1"}, "amount", "invalid_amount"),
        ({"amount": "12.345"}, "amount", "invalid_amount"),
        ({"amount": "lots"}, "amount", "validation_error"),
        ({"amount": True}, "amount", "validation_error"),
        ({"currency": "usd"}, "currency", "validation_error"),
        ({"currency": "EURO"}, "currency", "validation_error"),
        ({"probability": 101}, "probability", "validation_error"),
        ({"stage": "won"}, "stage", "validation_error"),
        ({"expected_close_date": "soon"}, "expected_close_date", "validation_error"),
        ({"account_id": str(foreign["id"])}, "account_id", "unknown_account"),
        ({"stage": "closed_lost"}, "close_reason", "reason_required"),
        ({"close_reason": "early"}, "close_reason", "not_closed"),
    ]
    for change, field, code in cases:
        r = await client.post(URL, headers=h, json={**base, **change})
        assert r.status_code == 422 and r.json()["code"] == code, (change, r.text)
        assert r.json()["field"] == field, (change, r.json())
    missing = await client.post(URL, headers=h, json={"account_id": str(account["id"]), "name": "Deal"})
    assert missing.status_code == 422 and missing.json()["field"] == "amount"
    assert await Opportunity.count() == 0


async def test_filters_and_pages_return_every_deal_once(client):
    org = await make_org()
    rep = await make_user(org)
    account, other = await make_account(rep), await make_account(rep)
    made = {}
    for i, stage in enumerate(["prospecting", "proposal", "proposal", "negotiation", "closed_won",
                               "closed_won", "proposal"]):
        row = await make_opportunity(rep, account["id"] if i < 6 else other["id"],
                                     name=f"Deal {i % 3}", stage=stage,
                                     expected_close_date=date(2030, 1, 10 + i))
        made[str(row["id"])] = (stage, row["account_id"], 10 + i)
    h = await auth_headers(client, rep)

    def expect(pred):
        return {k for k, v in made.items() if pred(*v)}

    checks = [
        ([("stage", "proposal"), ("stage", "negotiation")],
         expect(lambda s, a, d: s in ("proposal", "negotiation"))),
        ([("stage", "proposal"), ("account_id", str(account["id"]))],
         expect(lambda s, a, d: s == "proposal" and a == account["id"])),
        ([("open", "false")], expect(lambda s, a, d: s == "closed_won")),
        ([("open", "true"), ("close_after", "2030-01-11"), ("close_before", "2030-01-13")],
         expect(lambda s, a, d: 11 <= d <= 13)),
        ([("q", "deal"), ("sort", "-updated_at")], set(made)),
    ]
    for params, expected in checks:
        ids = [x["id"] for x in await all_pages(client, URL, h, params)]
        assert len(ids) == len(set(ids)) and set(ids) == expected, params
    r = await client.get(URL, headers=h, params={"sort": "expected_close_date"})
    assert r.status_code == 422 and r.json()["field"] == "sort"
    r = await client.get(URL, headers=h, params={"cursor": "garbage"})
    assert r.status_code == 422 and r.json()["field"] == "cursor"
