"""Contests over HTTP: who may write, validation codes, drafts only, other orgs see nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

from server.common.time import utcnow
from tests.activity_builders import make_team
from tests.builders import auth_headers
from tests.incentives.helpers import make_field

URL = "/api/v1/contests"


def body(people, **extra) -> dict:
    start = utcnow() + timedelta(days=1)
    out = {"name": "Spring visits", "starts_at": start.isoformat(), "ends_at": (start + timedelta(days=7)).isoformat(),
           "participants": {"user_ids": [str(p.id) for p in people]}, "metrics": [{"metric": "visits"}]}
    return out | extra


async def test_managers_create_edit_publish_and_cancel(client):
    f = await make_field(2)
    boss = await auth_headers(client, f.manager)
    r = await client.post(URL, json=body(f.reps, visibility="top3", scoring="percent_of_target",
                                         metrics=[{"metric": "visits", "target": 20}]), headers=boss)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["status"] == "draft" and c["participant_ids"] == [] and c["metrics"][0]["target"] == 20
    r = await client.patch(f"{URL}/{c['id']}", json={"name": "Spring blitz", "min_activities": 3}, headers=boss)
    assert r.status_code == 200 and r.json()["name"] == "Spring blitz" and r.json()["min_activities"] == 3
    r = await client.post(f"{URL}/{c['id']}/publish", headers=boss)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled"
    assert sorted(r.json()["participant_ids"]) == sorted(str(p.id) for p in f.reps)
    r = await client.patch(f"{URL}/{c['id']}", json={"name": "Too late"}, headers=boss)
    assert r.status_code == 409 and r.json()["code"] == "not_draft"
    r = await client.post(f"{URL}/{c['id']}/publish", headers=boss)
    assert r.status_code == 409
    rep = await auth_headers(client, f.reps[0])
    r = await client.get(URL, headers=rep)
    assert [x["id"] for x in r.json()["items"]] == [c["id"]]
    r = await client.get(f"{URL}/{c['id']}/leaderboard", headers=rep)
    assert r.status_code == 200 and r.json()["entries"] == [] and r.json()["final"] is False
    r = await client.post(f"{URL}/{c['id']}/cancel", headers=boss)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"


async def test_reps_may_not_write(client):
    f = await make_field(1)
    rep = await auth_headers(client, f.reps[0])
    r = await client.post(URL, json=body(f.reps), headers=rep)
    assert r.status_code == 403
    boss = await auth_headers(client, f.manager)
    c = (await client.post(URL, json=body(f.reps), headers=boss)).json()
    assert (await client.get(f"{URL}/{c['id']}", headers=rep)).status_code == 404  # drafts stay off reps
    r = await client.post(f"{URL}/{c['id']}/publish", headers=boss)
    assert (await client.post(f"{URL}/{c['id']}/cancel", headers=rep)).status_code == 403


async def test_validation_codes(client):
    f = await make_field(1)
    boss = await auth_headers(client, f.manager)
    start = utcnow() + timedelta(days=1)

    async def code(**extra) -> tuple[int, str]:
        r = await client.post(URL, json=body(f.reps, **extra), headers=boss)
        return r.status_code, r.json().get("code")

    assert await code(ends_at=(start - timedelta(days=1)).isoformat(), starts_at=start.isoformat()) == \
        (422, "invalid_window")
    assert await code(metrics=[{"metric": "handshakes"}]) == (422, "unknown_metric")
    assert await code(scoring="percent_of_target") == (422, "target_required")
    assert await code(participants={"user_ids": []}) == (422, "no_participants")
    empty_team = await make_team(f.manager, name="Nobody")
    assert await code(participants={"team_ids": [str(empty_team)]}) == (422, "no_participants")
    assert await code(participants={"user_ids": [str(uuid.uuid4())]}) == (422, "unknown_user")
    assert await code(participants={"team_ids": [str(uuid.uuid4())]}) == (422, "unknown_team")
    assert await code(prizes=[{"kind": "rank"}]) == (422, "invalid_prize")
    assert await code(metrics=[{"metric": "visits"}, {"metric": "visits"}]) == (422, "duplicate_metric")
    naive = body(f.reps)
    naive["starts_at"] = naive["starts_at"][:19]
    r = await client.post(URL, json=naive, headers=boss)
    assert r.status_code == 422  # instants need an offset
    stranger = await make_field(1)
    assert await code(participants={"user_ids": [str(stranger.reps[0].id)]}) == (422, "unknown_user")


async def test_a_manager_names_only_their_team(client):
    f = await make_field(1)
    from tests.builders import make_user

    outsider = await make_user(f.org_id, "rep", manager=f.admin)
    boss = await auth_headers(client, f.manager)
    r = await client.post(URL, json=body([outsider]), headers=boss)
    assert r.status_code == 422 and r.json()["code"] == "participant_out_of_scope"
    admin = await auth_headers(client, f.admin)
    assert (await client.post(URL, json=body([outsider, *f.reps]), headers=admin)).status_code == 201


async def test_another_org_gets_404(client):
    f, g = await make_field(1), await make_field(1)
    c = (await client.post(URL, json=body(f.reps), headers=await auth_headers(client, f.manager))).json()
    for person in (g.admin, g.manager):
        h = await auth_headers(client, person)
        assert (await client.get(f"{URL}/{c['id']}", headers=h)).status_code == 404
        assert (await client.post(f"{URL}/{c['id']}/publish", headers=h)).status_code == 404
        assert (await client.get(f"{URL}/{c['id']}/leaderboard", headers=h)).status_code == 404
