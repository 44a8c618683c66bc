"""Activities through HTTP: retried uploads, fixed fields, bad input, isolation, listing."""

import uuid
from datetime import datetime, timedelta, timezone

from server.comms.tables import Activity
from tests.activity_builders import make_activity
from tests.builders import auth_headers, make_org, make_user

URL = "/api/v1/activities"


def visit(**fields) -> dict:
    occurred = datetime.now(timezone.utc) - timedelta(minutes=20)
    return {"type": "visit", "outcome": "met", "occurred_at": occurred.isoformat(),
            "ended_at": (occurred + timedelta(minutes=15)).isoformat(), "lat": 41.8781, "lng": -87.6298,
            "accuracy_m": 12.5, "subject": "Quarterly check-in", **fields}


async def test_a_retried_upload_answers_200_with_the_stored_activity(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    body = visit(id=str(uuid.uuid4()))
    first = await client.post(URL, json=body, headers=h)
    assert first.status_code == 201, first.text
    assert first.json()["rep_id"] == str(rep.id) and first.json()["received_at"]
    again = await client.post(URL, json=body, headers=h)
    assert again.status_code == 200 and again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert await Activity.count() == 1
    changed = await client.post(URL, json={**body, "subject": "Something else"}, headers=h)
    assert changed.status_code == 409 and changed.json()["code"] == "id_taken"


async def test_amendments_change_only_amendable_fields(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    made = (await client.post(URL, json=visit(), headers=h)).json()
    url = f"{URL}/{made['id']}"
    r = await client.patch(url, json={"body": "Left the new catalogue", "duration_s": 900},
                           headers={**h, "If-Match": f'"{made["version"]}"'})
    assert r.status_code == 200 and r.json()["body"] == "Left the new catalogue"
    for field, value in (("occurred_at", "2025-01-01T10:00:00Z"), ("lat", 40.0), ("type", "call"),
                         ("rep_id", str(uuid.uuid4()))):
        bad = await client.patch(url, json={field: value}, headers=h)
        assert bad.status_code == 422 and bad.json()["code"] == "immutable_field", bad.text
        assert bad.json()["field"] == field
    assert (await client.get(url, headers=h)).json() == r.json()


async def test_bad_input_names_the_field(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    future = (datetime.now(timezone.utc) + timedelta(hours=30)).isoformat()  # up to 24 h ahead is clamped
    cases = [
        (visit(lat=123.0), "lat"),
        (visit(lng=-200.0), "lng"),
        (visit(occurred_at=future, ended_at=None), "occurred_at"),
        (visit(occurred_at="2025-06-01T10:00:00"), "occurred_at"),  # no offset: ambiguous
        (visit(duration_s=-5), "duration_s"),
        (visit(body="x" * 20_001), "body"),
        (visit(type="fax"), "type"),
    ]
    for body, field in cases:
        r = await client.post(URL, json=body, headers=h)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["field"] == field, r.json()
    assert await Activity.count() == 0


async def test_other_orgs_activities_are_unreachable(client):
    org_a, org_b = await make_org(), await make_org()
    rep_a = await make_user(org_a)
    rep_b = await make_user(org_b)
    theirs = await make_activity(rep_b)
    h = await auth_headers(client, rep_a)
    url = f"{URL}/{theirs['id']}"
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.patch(url, json={"body": "mine"}, headers=h)).status_code == 404
    assert (await client.delete(url, headers=h)).status_code == 404
    assert (await client.get(URL, headers=h)).json() == {"items": [], "next_cursor": None}
    # Re-using their id neither overwrites nor reveals their activity.
    r = await client.post(URL, json=visit(id=str(theirs["id"])), headers=h)
    assert r.status_code == 409 and r.json()["code"] == "id_taken" and str(rep_b.id) not in r.text


async def test_list_filters_and_pages(client):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    other = await make_user(org, manager=manager)
    for i in range(5):
        await make_activity(rep, type=("call", "visit", "note")[i % 3])
    await make_activity(other, type="call")
    h = await auth_headers(client, manager)
    page = await client.get(URL, params={"type": ["call", "visit"], "rep_id": str(rep.id)}, headers=h)
    assert page.status_code == 200, page.text
    assert sorted(a["type"] for a in page.json()["items"]) == ["call", "call", "visit", "visit"]
    single = await client.get(URL, params={"type": "note"}, headers=h)
    assert [a["type"] for a in single.json()["items"]] == ["note"]
    seen, cursor = [], None
    while True:
        params = {"limit": 4, "sort": "-updated_at", **({"cursor": cursor} if cursor else {})}
        body = (await client.get(URL, params=params, headers=h)).json()
        seen += [a["id"] for a in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6
    bad = await client.get(URL, params={"sort": "subject"}, headers=h)
    assert bad.status_code == 422 and bad.json()["field"] == "sort"
    # The rep alone sees only their own.
    mine = await client.get(URL, headers=await auth_headers(client, rep))
    assert {a["rep_id"] for a in mine.json()["items"]} == {str(rep.id)}
