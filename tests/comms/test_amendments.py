"""Corrections are explicit amendments, kept in history: who changed which field from what to what."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from server.common.time import utcnow
from tests.activity_builders import make_team
from tests.builders import Person, auth_headers, make_org, make_user
from tests.sync.phone import Phone, statuses


def a_call(**extra) -> dict:
    return {"id": str(uuid.uuid4()), "type": "call", "outcome": "connected", "duration_s": 95,
            "occurred_at": (utcnow() - timedelta(minutes=30)).isoformat(), "counterpart": "+13125550142",
            "subject": "Follow-up", "body": "Talked about pricing", **extra}


async def logged_call(client, rep: Person, **extra) -> tuple[dict, dict]:
    headers = await auth_headers(client, rep)
    r = await client.post("/api/v1/activities", json=a_call(**extra), headers=headers)
    assert r.status_code == 201, r.text
    return r.json(), headers


async def amend(client, activity_id: str, headers: dict, **fields) -> dict:
    r = await client.patch(f"/api/v1/activities/{activity_id}", json=fields, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def history(client, activity_id: str, headers: dict) -> list[dict]:
    r = await client.get(f"/api/v1/activities/{activity_id}/amendments", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_each_correction_is_kept_in_order_with_who_and_the_version(client):
    org = await make_org()
    rep = await make_user(org)
    created, headers = await logged_call(client, rep)
    assert await history(client, created["id"], headers) == []

    first = await amend(client, created["id"], headers, outcome="voicemail")
    second = await amend(client, created["id"], headers, body="Left a message about the quote")
    entries = await history(client, created["id"], headers)
    assert [e["changes"] for e in entries] == [
        {"outcome": {"from": "connected", "to": "voicemail"}},
        {"body": {"from": "Talked about pricing", "to": "Left a message about the quote"}},
    ]
    assert [e["version"] for e in entries] == [first["version"], second["version"]]
    assert first["version"] < second["version"]
    assert {e["amended_by_id"] for e in entries} == {str(rep.id)}
    assert all(datetime.fromisoformat(e["amended_at"]).tzinfo is not None for e in entries)
    # The activity itself shows the latest values.
    got = (await client.get(f"/api/v1/activities/{created['id']}", headers=headers)).json()
    assert (got["outcome"], got["body"], got["version"]) == (
        "voicemail", "Left a message about the quote", second["version"])


async def test_several_fields_and_times_are_recorded_as_json(client):
    org = await make_org()
    rep = await make_user(org)
    created, headers = await logged_call(client, rep)
    ended = (utcnow() - timedelta(minutes=10)).replace(microsecond=0)
    await amend(client, created["id"], headers, ended_at=ended.isoformat(), duration_s=None, subject=None)
    [entry] = await history(client, created["id"], headers)
    assert set(entry["changes"]) == {"ended_at", "duration_s", "subject"}
    assert entry["changes"]["duration_s"] == {"from": 95, "to": None}
    assert entry["changes"]["subject"] == {"from": "Follow-up", "to": None}
    assert entry["changes"]["ended_at"]["from"] is None
    assert datetime.fromisoformat(entry["changes"]["ended_at"]["to"]) == ended


async def test_a_patch_that_changes_nothing_adds_no_entry(client):
    org = await make_org()
    rep = await make_user(org)
    created, headers = await logged_call(client, rep)
    same = await amend(client, created["id"], headers, outcome="connected", body="Talked about pricing")
    assert same["version"] == created["version"]
    await amend(client, created["id"], headers, outcome="busy")
    await amend(client, created["id"], headers, outcome="busy")
    entries = await history(client, created["id"], headers)
    assert [e["changes"] for e in entries] == [{"outcome": {"from": "connected", "to": "busy"}}]


async def test_refused_amendments_leave_no_entry(client):
    org = await make_org()
    rep = await make_user(org)
    created, headers = await logged_call(client, rep)
    bad = await client.patch(f"/api/v1/activities/{created['id']}", json={"outcome": "met"}, headers=headers)
    assert bad.status_code == 422
    fixed = await client.patch(f"/api/v1/activities/{created['id']}", json={"type": "visit"}, headers=headers)
    assert fixed.status_code == 422
    assert await history(client, created["id"], headers) == []


async def test_a_manager_amending_a_reps_activity_is_recorded_as_the_manager(client):
    org = await make_org()
    manager = await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    await make_team(manager, rep)
    created, rep_headers = await logged_call(client, rep)
    manager_headers = await auth_headers(client, manager)
    await amend(client, created["id"], manager_headers, outcome="no_answer")
    for headers in (rep_headers, manager_headers):
        [entry] = await history(client, created["id"], headers)
        assert entry["amended_by_id"] == str(manager.id)
        assert entry["changes"] == {"outcome": {"from": "connected", "to": "no_answer"}}


async def test_the_history_is_hidden_from_those_who_cannot_see_the_activity(client):
    org, other_org = await make_org(), await make_org()
    manager, other_manager = await make_user(org, "manager"), await make_user(org, "manager")
    rep = await make_user(org, manager=manager)
    other_rep = await make_user(org, manager=other_manager)
    await make_team(manager, rep, name="North")
    await make_team(other_manager, other_rep, name="South")
    stranger = await make_user(other_org, "admin")
    created, headers = await logged_call(client, rep)
    await amend(client, created["id"], headers, outcome="voicemail")
    for person in (other_rep, stranger):
        r = await client.get(f"/api/v1/activities/{created['id']}/amendments",
                             headers=await auth_headers(client, person))
        assert r.status_code == 404, (person.role, r.text)
    missing = await client.get(f"/api/v1/activities/{uuid.uuid4()}/amendments", headers=headers)
    assert missing.status_code == 404


async def test_a_deleted_activity_has_no_history_to_show(client):
    org = await make_org()
    rep = await make_user(org)
    created, headers = await logged_call(client, rep)
    await amend(client, created["id"], headers, outcome="voicemail")
    assert (await client.delete(f"/api/v1/activities/{created['id']}", headers=headers)).status_code == 204
    r = await client.get(f"/api/v1/activities/{created['id']}/amendments", headers=headers)
    assert r.status_code == 404


async def test_an_amendment_pushed_from_the_phone_is_recorded_too(client):
    org = await make_org()
    rep = await make_user(org)
    phone = await Phone(client, rep).login()
    await phone.pull()
    body = a_call()
    record_id = body.pop("id")
    assert statuses(await phone.push([phone.mutation("activities", "insert", record_id, body)])) == ["applied"]
    out = await phone.push([phone.mutation("activities", "update", record_id, {"outcome": "busy"})])
    assert statuses(out) == ["applied"], out
    [entry] = await history(client, record_id, phone.headers)
    assert entry["changes"] == {"outcome": {"from": "connected", "to": "busy"}}
    assert entry["amended_by_id"] == str(rep.id)
    assert entry["version"] == phone.tables["activities"][record_id]["version"]
