"""Accounts through HTTP: CRUD, scope and org isolation, filters, search, pagination, bad input."""

import asyncio
import uuid

from server.db.ids import new_id
from server.db.tx import unit_of_work
from server.geo.tables import Territory, TerritoryAccount, TerritoryOwner
from tests.builders import auth_headers, make_org, make_user

ACCOUNT = {"name": "Acme Widgets", "status": "customer", "lat": 41.8781, "lng": -87.6298,
           "phone": "(312) 555-0142", "potential": "125000.50", "visit_every_days": 14}


async def create(client, headers, **fields):
    r = await client.post("/api/v1/accounts", json={**ACCOUNT, **fields}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_create_get_update_delete(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    client_id = str(uuid.uuid4())  # made offline on the phone
    made = await create(client, h, id=client_id)
    assert made["id"] == client_id and made["owner_id"] == str(rep.id)
    assert made["phone_e164"] == "+13125550142" and made["h3_cell"]
    assert made["potential"] == "125000.50"
    got = await client.get(f"/api/v1/accounts/{client_id}", headers=h)
    assert got.json() == made and got.headers["etag"] == f'"{made["version"]}"'

    r = await client.patch(f"/api/v1/accounts/{client_id}", json={"name": "Acme Widgets Inc", "industry": None},
                           headers={**h, "If-Match": f'"{made["version"]}"'})
    assert r.status_code == 200 and r.json()["name"] == "Acme Widgets Inc"
    assert r.json()["version"] > made["version"]
    stale = await client.patch(f"/api/v1/accounts/{client_id}", json={"name": "Old view"},
                               headers={**h, "If-Match": f'"{made["version"]}"'})
    assert stale.status_code == 412 and stale.json()["code"] == "version_mismatch"

    assert (await client.delete(f"/api/v1/accounts/{client_id}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/accounts/{client_id}", headers=h)).status_code == 404
    again = await client.post("/api/v1/accounts", json={**ACCOUNT, "id": client_id}, headers=h)
    assert again.status_code == 409 and again.json()["code"] == "id_taken"


async def test_other_orgs_accounts_are_unreachable(client):
    org_a, org_b = await make_org(), await make_org()
    admin_a = await make_user(org_a, "admin")
    admin_b = await make_user(org_b, "admin")
    theirs = await create(client, await auth_headers(client, admin_b))
    h = await auth_headers(client, admin_a)
    url = f"/api/v1/accounts/{theirs['id']}"
    assert (await client.get(url, headers=h)).status_code == 404
    assert (await client.patch(url, json={"name": "mine now"}, headers=h)).status_code == 404
    assert (await client.delete(url, headers=h)).status_code == 404
    assert (await client.get("/api/v1/accounts", headers=h)).json()["items"] == []
    # Nor can a record be handed to a user of another org.
    r = await client.post("/api/v1/accounts", json={**ACCOUNT, "owner_id": str(admin_b.id)}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "unknown_user"


async def give_territory(user, account_ids):
    async with unit_of_work():
        tid = new_id()
        await Territory.insert(Territory(id=tid, org_id=user.org_id, name=f"T {user.email}", version=1))
        await TerritoryOwner.insert(TerritoryOwner(id=new_id(), org_id=user.org_id, territory_id=tid,
                                                   user_id=user.id))
        for aid in account_ids:
            await TerritoryAccount.insert(TerritoryAccount(id=new_id(), org_id=user.org_id,
                                                           territory_id=tid, account_id=uuid.UUID(aid)))


async def test_scope_by_role(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    boss = await make_user(org, "manager")
    lead = await make_user(org, "manager", manager=boss)
    rep1 = await make_user(org, "rep", manager=lead)
    rep2 = await make_user(org, "rep", manager=lead)
    outsider = await make_user(org, "rep")
    ha = await auth_headers(client, admin)
    a1 = await create(client, ha, name="Alpha", owner_id=str(rep1.id))
    a2 = await create(client, ha, name="Bravo", owner_id=str(rep2.id))
    a3 = await create(client, ha, name="Charlie", owner_id=str(outsider.id))
    in_territory = await create(client, ha, name="Delta", owner_id=None)
    await give_territory(rep1, [in_territory["id"]])

    async def names(person):
        r = await client.get("/api/v1/accounts", headers=await auth_headers(client, person))
        return [a["name"] for a in r.json()["items"]]

    assert await names(rep1) == ["Alpha", "Delta"]  # owned, or in their territory
    assert await names(rep2) == ["Bravo"]
    assert await names(lead) == ["Alpha", "Bravo", "Delta"]  # the team's
    assert await names(boss) == ["Alpha", "Bravo", "Delta"]  # through the middle manager
    assert await names(admin) == ["Alpha", "Bravo", "Charlie", "Delta"]
    h1 = await auth_headers(client, rep1)
    # Filtering by owner never widens the scope: another rep's accounts stay hidden.
    r = await client.get("/api/v1/accounts", params={"owner_id": str(rep2.id)}, headers=h1)
    assert r.json()["items"] == []
    r = await client.get("/api/v1/accounts", params={"owner_id": str(rep1.id)},
                         headers=await auth_headers(client, boss))
    assert [a["name"] for a in r.json()["items"]] == ["Alpha"]
    r = await client.get("/api/v1/accounts", params={"owner_id": str(outsider.id)},
                         headers=await auth_headers(client, boss))
    assert r.json()["items"] == []
    for hidden in (a2, a3):
        assert (await client.get(f"/api/v1/accounts/{hidden['id']}", headers=h1)).status_code == 404
    assert (await client.get(f"/api/v1/accounts/{a1['id']}", headers=h1)).status_code == 200
    # A rep cannot give an account away; a manager can, within the team.
    r = await client.patch(f"/api/v1/accounts/{a1['id']}", json={"owner_id": str(rep2.id)}, headers=h1)
    assert r.status_code == 403 and r.json()["code"] == "owner_not_allowed"
    r = await client.patch(f"/api/v1/accounts/{a1['id']}", json={"owner_id": str(rep2.id)},
                           headers=await auth_headers(client, lead))
    assert r.status_code == 200
    assert await names(rep1) == ["Delta"]


async def test_filters_and_name_search(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    rep = await make_user(org)
    h = await auth_headers(client, admin)
    await create(client, h, name="Northside Dental Clinic", owner_id=str(rep.id))
    await create(client, h, name="North Star Diner", status="prospect", owner_id=str(rep.id))
    await create(client, h, name="Southside Dental", owner_id=None)

    async def names(**params):
        r = await client.get("/api/v1/accounts", params=params, headers=h)
        assert r.status_code == 200, r.text
        return sorted(a["name"] for a in r.json()["items"])

    assert await names(q="dent") == ["Northside Dental Clinic", "Southside Dental"]
    assert await names(q="north dent") == ["Northside Dental Clinic"]
    assert await names(owner_id=str(rep.id), status="customer") == ["Northside Dental Clinic"]
    assert await names(unowned="true") == ["Southside Dental"]
    assert await names(q="zzz") == []
    assert await names(updated_since="2000-01-01T00:00:00Z") != []
    assert await names(updated_since="2999-01-01T00:00:00Z") == []


async def test_pages_are_stable_under_concurrent_inserts(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    before = [await create(client, h, name=f"Account {i:03d}", lat=None, lng=None) for i in range(0, 40, 2)]
    seen: list[str] = []
    cursor = None
    inserted = 0
    while True:
        params = {"limit": 6, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/accounts", params=params, headers=h)).json()
        seen += [a["id"] for a in page["items"]]
        # Other phones keep creating accounts, before and after the reader's position.
        await asyncio.gather(*(create(client, h, name=f"Account {inserted + k:03d}x", lat=None, lng=None)
                               for k in (1, 21)))
        inserted += 2
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "a row was served twice"
    assert {a["id"] for a in before} <= set(seen), "a row that existed throughout was skipped"


async def test_bad_input_is_refused_with_the_field(client):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    cases = [
        ({**ACCOUNT, "lat": 123.0}, "lat"),
        ({**ACCOUNT, "lng": "east"}, "lng"),
        ({k: v for k, v in ACCOUNT.items() if k != "name"}, "name"),
        ({**ACCOUNT, "status": "vip"}, "status"),
        ({**ACCOUNT, "visit_every_days": 0}, "visit_every_days"),
        ({**ACCOUNT, "potential": "-5"}, "potential"),
        ({**ACCOUNT, "lng": None}, "lng"),
        ({**ACCOUNT, "phone": "call me"}, "phone"),
        ({**ACCOUNT, "surprise": 1}, "surprise"),
        ({**ACCOUNT, "id": "not-a-uuid"}, "id"),
    ]
    for body, field in cases:
        r = await client.post("/api/v1/accounts", json=body, headers=h)
        assert r.status_code == 422, (field, r.text)
        problem = r.json()
        assert problem["field"] == field, (field, problem)
        assert problem["code"] and problem["status"] == 422
    r = await client.post("/api/v1/accounts", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code in (400, 422)
    r = await client.get("/api/v1/accounts", params={"limit": 1000}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "limit"
    r = await client.get("/api/v1/accounts", params={"cursor": "garbage"}, headers=h)
    assert r.status_code == 422 and r.json()["code"] == "invalid_cursor"
    # Nothing of the refused requests was stored.
    assert (await client.get("/api/v1/accounts", headers=h)).json()["items"] == []


async def test_oversized_body_is_413(client, settings):
    org = await make_org()
    rep = await make_user(org)
    h = await auth_headers(client, rep)
    big = {**ACCOUNT, "website": "x" * (settings.max_body_bytes + 10)}
    r = await client.post("/api/v1/accounts", json=big, headers=h)
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
