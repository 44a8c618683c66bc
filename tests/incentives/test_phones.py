"""Contests on phones: publishing reaches participants (pull, live poke, push), ``top3`` boards
drop rows that leave the top three, and a rep who leaves their team stays in the contest."""

from __future__ import annotations

from datetime import timedelta

import httpx

from server.common.time import utcnow
from server.db.direct import execute
from server.db.tx import unit_of_work
from server.incentives import leaderboard
from server.incentives.lifecycle import advance
from server.incentives.rules import Participants
from server.notify.tables import PushItem
from server.sync import events
from server.sync.events import Poke
from tests.activity_builders import make_team
from tests.builders import auth_headers, bearer, login
from tests.incentives.helpers import (
    START,
    act,
    contest_in,
    entries,
    make_field,
    publish,
)
from tests.notify.builders import make_device
from tests.sync.phone import Phone
from tests.sync.test_events import live, phone, serving

HOUR = timedelta(hours=1)


class Recorder:
    def __init__(self) -> None:
        self.sent: list = []

    def enqueue(self, message) -> None:
        self.sent.append(message)


async def test_publishing_reaches_participants_phones(client):
    f = await make_field(2)
    rep, bystander = f.reps
    device = await make_device(f.org_id, rep.id)
    boss = await auth_headers(client, f.manager)
    start = utcnow() + timedelta(days=1)
    r = await client.post("/api/v1/contests", headers=boss, json={
        "name": "Door knock", "starts_at": start.isoformat(), "ends_at": (start + timedelta(days=3)).isoformat(),
        "participants": {"user_ids": [str(rep.id)]}, "metrics": [{"metric": "visits"}]})
    contest_id = r.json()["id"]
    phones = {p.id: await Phone(client, p).login() for p in (rep, bystander)}
    for p in phones.values():
        await p.pull()
        assert not p.ids("contests")  # a draft reaches nobody
    recorder = Recorder()
    events.attach(recorder)
    try:
        r = await client.post(f"/api/v1/contests/{contest_id}/publish", headers=boss)
        assert r.status_code == 200, r.text
    finally:
        events.detach(recorder)
    version = r.json()["version"]
    # One poke after commit, at the contest's version, for its participants and author only: the
    # bystander's phone is not woken (managers above and admins hold it through them).
    [poke] = [m for m in recorder.sent if isinstance(m, Poke)]
    assert poke.version == version and set(poke.holders) == {rep.id, f.manager.id}
    await phones[rep.id].pull()
    assert phones[rep.id].ids("contests") == {contest_id}
    assert phones[rep.id].tables["contests"][contest_id]["status"] == "scheduled"
    await phones[bystander.id].pull()
    assert not phones[bystander.id].ids("contests")
    [push] = await PushItem.select().where(PushItem.device_id == device)
    assert push["title"] == "New contest: Door knock"


async def test_publish_pokes_a_connected_phone_over_sse(settings):
    f = await make_field(1)
    rep = f.reps[0]
    async with serving(settings) as base, httpx.AsyncClient(base_url=base) as http:
        p = await phone(http, rep)
        boss = bearer(await login(http, f.manager))
        start = utcnow() + timedelta(days=1)
        r = await http.post("/api/v1/contests", headers=boss, json={
            "name": "Live", "starts_at": start.isoformat(), "ends_at": (start + timedelta(days=3)).isoformat(),
            "participants": {"user_ids": [str(rep.id)]}, "metrics": [{"metric": "calls"}]})
        async with live(base, p, f.org_id) as stream:
            r = await http.post(f"/api/v1/contests/{r.json()['id']}/publish", headers=boss)
            assert r.status_code == 200, r.text
            await stream.poked_up_to(r.json()["version"])


async def test_top3_rows_leave_phones_when_they_drop_out(client):
    f = await make_field(5)
    r1, r2, r3, r4, r5 = f.reps
    contest = await publish(f.manager, contest_in(f.reps, visibility="top3"))
    cid = contest["id"]
    for n, rep in zip((5, 4, 3, 2, 1), f.reps, strict=True):
        await act(rep, START + HOUR, "visit", n)
    await advance(cid, START + 2 * HOUR)
    board = await entries(cid)
    assert [board[p.id]["rank"] for p in f.reps] == [1, 2, 3, 4, 5]
    fifth, third, boss = [await Phone(client, p).login() for p in (r5, r3, f.manager)]
    for p in (fifth, third, boss):
        await p.pull()
    row = {p.id: str(board[p.id]["id"]) for p in f.reps}
    assert fifth.ids("leaderboard_entries") == {row[r1.id], row[r2.id], row[r3.id], row[r5.id]}
    assert len(boss.ids("leaderboard_entries")) == 5

    await act(r4, START + 3 * HOUR, "visit", 10)  # r4: 12 visits, first; r3 falls to fourth
    assert await leaderboard.recompute(cid) >= 1
    assert [(await entries(cid))[p.id]["rank"] for p in f.reps] == [2, 3, 4, 1, 5]
    for p in (fifth, third, boss):
        await p.pull()
    assert fifth.ids("leaderboard_entries") == {row[r4.id], row[r1.id], row[r2.id], row[r5.id]}
    assert third.ids("leaderboard_entries") == {row[r4.id], row[r1.id], row[r2.id], row[r3.id]}  # keeps own
    assert len(boss.ids("leaderboard_entries")) == 5
    r = await client.get(f"/api/v1/contests/{cid}/leaderboard", headers=await auth_headers(client, r5))
    assert [(e["user_id"], e["rank"]) for e in r.json()["entries"]] == [
        (str(r4.id), 1), (str(r1.id), 2), (str(r2.id), 3), (str(r5.id), 5)]
    # And a phone holds exactly what a fresh pull would give.
    fresh = await Phone(client, r5).login()
    await fresh.pull()
    assert fresh.ids("leaderboard_entries") == fifth.ids("leaderboard_entries")
    assert fresh.tables["leaderboard_entries"] == fifth.tables["leaderboard_entries"]


async def test_a_rep_who_leaves_the_team_mid_contest_stays_a_participant(client):
    f = await make_field(2)
    stayer, leaver = f.reps
    team = await make_team(f.manager, stayer, leaver)
    contest = await publish(f.manager, contest_in(participants=Participants(team_ids=[team])))
    cid = contest["id"]
    await act(leaver, START + HOUR, "visit", 2)
    await advance(cid, START + 2 * HOUR)
    async with unit_of_work():  # the leaver moves out of the team; a newcomer joins
        await execute("UPDATE team_memberships SET valid_to = ? WHERE team_id = ? AND user_id = ?",
                      [START + 3 * HOUR, team, leaver.id])
    from tests.builders import make_user

    newcomer = await make_user(f.org_id, "rep", manager=f.manager)
    from server.db.ids import new_id
    from server.orgs.tables import TeamMembership

    async with unit_of_work():
        await TeamMembership.insert(TeamMembership(id=new_id(), org_id=f.org_id, team_id=team, user_id=newcomer.id))
    await act(leaver, START + 4 * HOUR, "visit", 1)
    await leaderboard.recompute(cid)
    board = await entries(cid)
    assert set(board) == {stayer.id, leaver.id}
    assert (board[leaver.id]["score"], board[leaver.id]["rank"]) == (3.0, 1)
    phone_ = await Phone(client, leaver).login()
    await phone_.pull()
    assert phone_.ids("contests") == {str(cid)}
