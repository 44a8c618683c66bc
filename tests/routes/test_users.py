"""The users directory and teams through HTTP: scope per role, who adds and changes whom."""

import uuid

from server.orgs.tables import ManagerLink
from tests.activity_builders import make_team
from tests.builders import PASSWORD, auth_headers, login, make_org, make_user

URL = "/api/v1/users"


async def org_chart():
    """admin; two managers each with two reps; a rep with no manager."""
    org = await make_org()
    admin = await make_user(org, "admin")
    north, south = await make_user(org, "manager"), await make_user(org, "manager")
    n1, n2 = await make_user(org, manager=north), await make_user(org, manager=north)
    s1, s2 = await make_user(org, manager=south), await make_user(org, manager=south)
    loner = await make_user(org)
    return org, admin, north, south, n1, n2, s1, s2, loner


async def ids(client, person, **params) -> set[uuid.UUID]:
    r = await client.get(URL, params=params, headers=await auth_headers(client, person))
    assert r.status_code == 200, r.text
    return {uuid.UUID(u["id"]) for u in r.json()["items"]}


async def test_directory_is_scoped_per_role(client):
    org, admin, north, south, n1, n2, s1, s2, loner = await org_chart()
    everyone = {p.id for p in (admin, north, south, n1, n2, s1, s2, loner)}
    assert await ids(client, admin) == everyone
    assert await ids(client, north) == {north.id, n1.id, n2.id}
    assert await ids(client, n1) == {n1.id, n2.id, north.id}
    assert await ids(client, loner) == {loner.id}
    assert await ids(client, admin, role="manager") == {north.id, south.id}
    assert await ids(client, admin, manager_id=str(south.id)) == {s1.id, s2.id}
    assert await ids(client, admin, q=n1.email[:12].upper()) == {n1.id}
    h = await auth_headers(client, n1)
    assert (await client.get(f"{URL}/{s1.id}", headers=h)).status_code == 404
    assert (await client.get(f"{URL}/{n2.id}", headers=h)).json()["email"] == n2.email


async def test_directory_pages_cover_each_user_once(client):
    org, admin, *_ = await org_chart()
    h = await auth_headers(client, admin)
    seen, cursor = [], None
    while True:
        body = (await client.get(URL, params={"limit": 3, **({"cursor": cursor} if cursor else {})},
                                 headers=h)).json()
        seen += [u["id"] for u in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 8


async def test_who_may_add_users(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    new = {"email": "new.rep@example.com", "password": PASSWORD, "full_name": "New Rep"}
    r = await client.post(URL, json=new, headers=await auth_headers(client, rep))
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    hm = await auth_headers(client, manager)
    r = await client.post(URL, json={**new, "role": "manager"}, headers=hm)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    r = await client.post(URL, json={**new, "manager_id": str(admin.id)}, headers=hm)
    assert r.status_code == 403
    r = await client.post(URL, json={**new, "phone": "(312) 555-0100"}, headers=hm)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["role"] == "rep" and made["manager_id"] == str(manager.id)
    assert made["phone_e164"] == "+13125550100" and "password" not in r.text
    assert uuid.UUID(made["id"]) in await ids(client, manager)
    ok = await client.post("/api/v1/auth/login", json={"email": new["email"], "password": PASSWORD})
    assert ok.status_code == 200
    dup = await client.post(URL, json={**new, "email": "New.Rep@example.com"}, headers=await auth_headers(client, admin))
    assert dup.status_code == 409
    weak = await client.post(URL, json={**new, "email": "x@example.com", "password": "short"},
                             headers=await auth_headers(client, admin))
    assert weak.status_code == 422 and weak.json()["field"] == "password"


async def test_admin_deactivates_a_user_and_their_tokens_stop(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    rep = await make_user(org)
    tokens = await login(client, rep)
    rep_h = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/api/v1/me", headers=rep_h)).status_code == 200
    r = await client.patch(f"{URL}/{rep.id}", json={"active": False}, headers=await auth_headers(client, admin))
    assert r.status_code == 200 and r.json()["active"] is False
    assert (await client.get("/api/v1/me", headers=rep_h)).status_code == 401
    refresh = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 401
    relogin = await client.post("/api/v1/auth/login", json={"email": rep.email, "password": PASSWORD})
    assert relogin.status_code in (401, 403)


async def test_changing_manager_keeps_history(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    old, new = await make_user(org, "manager"), await make_user(org, "manager")
    rep = await make_user(org, manager=old)
    h = await auth_headers(client, admin)
    r = await client.patch(f"{URL}/{rep.id}", json={"manager_id": str(new.id)}, headers=h)
    assert r.status_code == 200 and r.json()["manager_id"] == str(new.id)
    links = await ManagerLink.select().where(ManagerLink.user_id == rep.id).order_by(ManagerLink.valid_from)
    assert [(x["manager_id"], x["valid_to"] is None) for x in links] == [(old.id, False), (new.id, True)]
    assert rep.id in await ids(client, new) and rep.id not in await ids(client, old)
    # No loops, and no rep as a manager.
    loop = await client.patch(f"{URL}/{old.id}", json={"manager_id": str(old.id)}, headers=h)
    assert loop.status_code == 422 and loop.json()["code"] == "manager_cycle"
    to_rep = await client.patch(f"{URL}/{new.id}", json={"manager_id": str(rep.id)}, headers=h)
    assert to_rep.status_code == 422 and to_rep.json()["field"] == "manager_id"


async def test_users_edit_themselves_but_not_their_role(client):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    mate = await make_user(org, manager=manager)
    h = await auth_headers(client, rep)
    r = await client.patch(f"{URL}/{rep.id}", json={"full_name": "Rae Rep", "timezone": "America/Chicago",
                                                    "home_lat": 41.88, "home_lng": -87.63}, headers=h)
    assert r.status_code == 200, r.text
    assert (r.json()["full_name"], r.json()["home_lat"]) == ("Rae Rep", 41.88)
    for body in ({"role": "admin"}, {"active": False}, {"capacity_fte": 0.5}):
        bad = await client.patch(f"{URL}/{rep.id}", json=body, headers=h)
        assert bad.status_code == 403 and bad.json()["code"] == "forbidden", body
    assert (await client.patch(f"{URL}/{mate.id}", json={"full_name": "x"}, headers=h)).status_code == 403
    tz = await client.patch(f"{URL}/{rep.id}", json={"timezone": "Mars/Olympus"}, headers=h)
    assert tz.status_code == 422 and tz.json()["field"] == "timezone"


async def test_other_orgs_users_are_unreachable(client):
    org_a, org_b = await make_org(), await make_org()
    admin_a = await make_user(org_a, "admin")
    rep_b = await make_user(org_b)
    h = await auth_headers(client, admin_a)
    assert (await client.get(f"{URL}/{rep_b.id}", headers=h)).status_code == 404
    assert (await client.patch(f"{URL}/{rep_b.id}", json={"active": False}, headers=h)).status_code == 404
    assert rep_b.id not in await ids(client, admin_a)
    r = await client.post(URL, json={"email": "z@example.com", "password": PASSWORD, "full_name": "Z",
                                     "manager_id": str(rep_b.id)}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "manager_id"


async def test_teams_list_members(client):
    org = await make_org()
    admin = await make_user(org, "admin")
    north, south = await make_user(org, "manager"), await make_user(org, "manager")
    n1, s1 = await make_user(org, manager=north), await make_user(org, manager=south)
    north_team = await make_team(north, north, n1, name="North")
    south_team = await make_team(south, south, s1, name="South")
    everything = (await client.get("/api/v1/teams", headers=await auth_headers(client, admin))).json()
    assert [t["name"] for t in everything] == ["North", "South"]
    assert everything[0]["member_ids"] == sorted([str(north.id), str(n1.id)])
    mine = (await client.get("/api/v1/teams", headers=await auth_headers(client, n1))).json()
    assert [t["id"] for t in mine] == [str(north_team)]
    theirs = (await client.get("/api/v1/teams", headers=await auth_headers(client, south))).json()
    assert [t["id"] for t in theirs] == [str(south_team)]
